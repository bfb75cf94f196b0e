//! Integration tests against the real servers that `fixtures/sandbox.sh up` starts: a Docker
//! Engine with BuildKit, a registry and a private package index. One binary, one module per
//! area, as uv and cargo lay theirs out.

#[path = "support/http_server.rs"]
mod http_server;
#[path = "support/registry.rs"]
mod registry;
#[path = "support/wheel.rs"]
mod wheel;

mod action;
mod api_version;
mod build;
mod common;
mod completions;
mod context;
mod credentials;
mod doctor;
mod filesync;
mod google;
mod init;
mod leak;
mod packaging;
mod push;
mod realtree;
mod reference;
mod sandbox;
mod scan;
mod terminal;
