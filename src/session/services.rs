//! The gRPC services a session serves, over the generated traits of bollard-buildkit-proto.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;

use bollard_buildkit_proto::health::health_server::{Health, HealthServer};
use bollard_buildkit_proto::health::{
    HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse,
    health_check_response::ServingStatus,
};
use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::{Secrets, SecretsServer};
use bollard_buildkit_proto::moby::buildkit::secrets::v1::{GetSecretRequest, GetSecretResponse};
use bollard_buildkit_proto::moby::filesync::v1::auth_server::{Auth, AuthServer};
use bollard_buildkit_proto::moby::filesync::v1::{
    CredentialsRequest, CredentialsResponse, FetchTokenRequest, FetchTokenResponse,
    GetTokenAuthorityRequest, GetTokenAuthorityResponse, VerifyTokenAuthorityRequest,
    VerifyTokenAuthorityResponse,
};
use secrecy::{ExposeSecret, SecretSlice};
use tonic::{Request, Response, Status};

use super::{MAX_SECRET_BYTES, SessionStore};
use crate::login::Login;

/// The services, ready for a hyper HTTP/2 connection.
pub fn routes(store: SessionStore) -> tonic::service::Routes {
    let store = Arc::new(store);
    let mut routes = tonic::service::Routes::new(HealthServer::new(HealthService))
        .add_service(SecretsServer::new(SecretService {
            secrets: store.secrets.clone(),
        }))
        .add_service(
            AuthServiceImpl {
                registries: store.registries.clone(),
            }
            .into_server(),
        );
    if let Some(files) = &store.files {
        routes = routes.add_service(files.clone().into_server());
    }
    routes.prepare()
}

struct HealthService;

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse {
            status: ServingStatus::Serving as i32,
        }))
    }

    async fn list(
        &self,
        _request: Request<HealthListRequest>,
    ) -> Result<Response<HealthListResponse>, Status> {
        Err(Status::unimplemented("list is not served"))
    }

    type WatchStream = Pin<
        Box<dyn futures_util::Stream<Item = Result<HealthCheckResponse, Status>> + Send + 'static>,
    >;

    async fn watch(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("watch is not served"))
    }
}

struct SecretService {
    secrets: HashMap<String, Arc<SecretSlice<u8>>>,
}

#[tonic::async_trait]
impl Secrets for SecretService {
    async fn get_secret(
        &self,
        request: Request<GetSecretRequest>,
    ) -> Result<Response<GetSecretResponse>, Status> {
        let id = &request.get_ref().id;
        match self.secrets.get(id) {
            Some(secret) => {
                tracing::debug!(id = %id, "serving secret");
                let data = secret.expose_secret();
                if data.len() > MAX_SECRET_BYTES {
                    return Err(Status::invalid_argument(format!(
                        "secret {id} is larger than {MAX_SECRET_BYTES} bytes"
                    )));
                }
                Ok(Response::new(GetSecretResponse {
                    data: data.to_vec(),
                }))
            }
            // NotFound lets an optional mount be skipped; a required one fails the build.
            None => {
                tracing::debug!(id = %id, "secret not found");
                Err(Status::not_found(format!("secret {id} not found")))
            }
        }
    }
}

struct AuthServiceImpl {
    registries: HashMap<String, Login>,
}

impl AuthServiceImpl {
    fn into_server(self) -> AuthServer<Self> {
        AuthServer::new(self)
    }
}

#[tonic::async_trait]
impl Auth for AuthServiceImpl {
    async fn credentials(
        &self,
        request: Request<CredentialsRequest>,
    ) -> Result<Response<CredentialsResponse>, Status> {
        let host = &request.get_ref().host;
        // An empty answer means anonymous, which is right for public base images.
        let response = match self.registries.get(host) {
            Some(login) => {
                // An identity token goes with no user name, as the docker CLI answers.
                tracing::debug!(host = %host, username = %login.session_username(), "serving registry credentials");
                CredentialsResponse {
                    username: login.session_username().to_owned(),
                    secret: login.secret.expose_secret().to_owned(),
                }
            }
            None => CredentialsResponse::default(),
        };
        Ok(Response::new(response))
    }

    async fn fetch_token(
        &self,
        _request: Request<FetchTokenRequest>,
    ) -> Result<Response<FetchTokenResponse>, Status> {
        Err(Status::unimplemented(
            "token fetching is left to the engine",
        ))
    }

    // Unimplemented makes the engine fall back to Credentials and fetch tokens itself.
    async fn get_token_authority(
        &self,
        _request: Request<GetTokenAuthorityRequest>,
    ) -> Result<Response<GetTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("no token authority"))
    }

    async fn verify_token_authority(
        &self,
        _request: Request<VerifyTokenAuthorityRequest>,
    ) -> Result<Response<VerifyTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("no token authority"))
    }
}
