//! An owned `TF_Status` for the C API calls the tensorflow crate does not
//! wrap (the gRPC server of `cluster`, the kernel registration of `native`).

use std::ffi::CStr;

use crate::error::{Error, Result};

/// Owns a `TF_Status`.
pub(crate) struct Status(pub(crate) *mut tensorflow_sys::TF_Status);

impl Status {
    pub(crate) fn new() -> Status {
        // SAFETY: TF_NewStatus has no preconditions.
        Status(unsafe { tensorflow_sys::TF_NewStatus() })
    }

    /// TensorFlow's message if the status is not OK.
    pub(crate) fn message(&self) -> Option<String> {
        // SAFETY: self.0 is a live status.
        let code = unsafe { tensorflow_sys::TF_GetCode(self.0) };
        if code == tensorflow_sys::TF_Code::TF_OK {
            return None;
        }
        // SAFETY: TF_Message returns a NUL-terminated string owned by the status.
        let message = unsafe { CStr::from_ptr(tensorflow_sys::TF_Message(self.0)) };
        Some(message.to_string_lossy().into_owned())
    }

    /// `Ok`, or [`Error::TensorFlow`] with `context` and the message.
    pub(crate) fn check(&self, context: impl FnOnce() -> String) -> Result<()> {
        match self.message() {
            None => Ok(()),
            Some(message) => Err(Error::TensorFlow {
                context: context(),
                message,
            }),
        }
    }
}

impl Drop for Status {
    fn drop(&mut self) {
        // SAFETY: created by TF_NewStatus, deleted once.
        unsafe { tensorflow_sys::TF_DeleteStatus(self.0) }
    }
}
