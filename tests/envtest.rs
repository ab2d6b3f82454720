#[test]
fn env_is_set() {
    eprintln!("PRE={:?}", std::env::var("SNN_PREINIT"));
    eprintln!("V={}", snn::runtime::tf_version());
    snn::runtime::quiet_tensorflow();
    eprintln!("ENV={:?}", std::env::var("TF_CPP_MIN_LOG_LEVEL"));
}
