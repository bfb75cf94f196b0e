//! Credentials in URLs: `scheme://user:password@host` and `scheme://TOKEN@host`.
