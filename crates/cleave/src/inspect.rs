//! Comparing what two processes share.
