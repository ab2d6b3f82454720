//! Raster and trace plots of a [`Recording`](crate::network::Recording).
