//! Pushing images to their registries: one push per tag through the engine, retried with
//! exponential backoff and jitter when the failure is transient, never when the registry refuses
//! the login, and confirmed afterwards by asking the registry which manifest the tag points at
//! and which config blob that manifest names.
//!
//! What reached the registry is the registry's word, never assumed from the engine's: a push
//! whose stream broke, ended without a digest or failed on the way counts as pushed exactly when
//! the registry's tag holds this image.

use std::time::{Duration, Instant};

use crate::credentials::registry::login_for_host;
use crate::engine::push::{PushError, PushEvent, push_image};
use crate::engine::transport::Api;
use crate::error::UserError;
use crate::login::Login;
use crate::reference::Reference;
use crate::registry::{ManifestInfo, Platform, config_digest, manifest_digest};

/// How pushes are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The first wait; each next one doubles.
    pub base_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The policy `--push-attempts` and `--push-max-delay` ask for: at least one attempt; waits
    /// start at 1 s (or the cap, if lower) and never pass the cap.
    pub fn new(attempts: u32, max_delay_secs: f64) -> Self {
        let max_delay = Duration::from_secs_f64(max_delay_secs.max(0.0));
        Self {
            attempts: attempts.max(1),
            base_delay: Duration::from_secs(1).min(max_delay),
            max_delay,
        }
    }

    /// The wait before attempt `next` (2 for the first retry): base * 2^(next-2), capped, with
    /// "equal jitter" (half fixed, half random) so many clients do not retry in step.
    pub fn delay(&self, next: u32, random: f64) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << (next.saturating_sub(2)).min(16));
        let capped = exp.min(self.max_delay);
        capped / 2 + capped.mul_f64(random.clamp(0.0, 1.0) / 2.0)
    }
}

/// What the push reports as it goes.
#[derive(Debug, Clone)]
pub enum PublishEvent {
    /// Starting to push a reference, with the login's source.
    Started {
        reference: String,
        login_source: Option<String>,
    },
    /// The engine's progress.
    Push { reference: String, event: PushEvent },
    /// A transient failure; the next attempt comes after `delay`.
    Retrying {
        reference: String,
        attempt: u32,
        of: u32,
        delay: Duration,
        reason: String,
    },
    /// Pushed and confirmed by the registry.
    Done { reference: String, digest: String },
}

/// The local image a reference names, as the registry is asked about it.
#[derive(Debug, Clone, Default)]
pub struct LocalIdentity {
    /// The engine's image id: the config digest on the classic image store, the manifest (or
    /// index) digest on the containerd image store.
    pub id: String,
    /// The image's platform, which picks its manifest out of an index.
    pub platform: Option<Platform>,
    /// The config digest the registry gave for an earlier tag of this image in this run.
    pub config_digest: Option<String>,
}

/// One pushed tag.
#[derive(Debug, Clone)]
pub struct Published {
    /// `host/repo:tag` as given.
    pub reference: String,
    /// `host/repo` (no tag).
    pub name: String,
    /// The manifest digest the registry reports for the tag.
    pub digest: String,
    /// The digest of the config blob that manifest names (for an index, its manifest for the
    /// image's platform), as the registry serves it.
    pub config_digest: String,
    /// The engine's error, when the push failed on the way but the registry's tag holds the
    /// image all the same.
    pub despite: Option<String>,
    /// The manifest's media type, when the registry said.
    pub media_type: Option<String>,
    /// The manifest's size, when known.
    pub size: Option<u64>,
    /// How long it took.
    pub duration: Duration,
}

/// Pushes one reference, retrying transient failures, and confirms the digest and the config
/// with the registry. `image` is what the reference names in the engine.
pub async fn publish(
    api: &Api,
    reference: &str,
    image: &LocalIdentity,
    policy: RetryPolicy,
    var: &dyn Fn(&str) -> Option<String>,
    on_event: &mut (dyn FnMut(PublishEvent) + Send),
) -> Result<Published, PublishError> {
    let started = Instant::now();
    let parsed = Reference::parse_name_tag(reference)?;
    let mut attempt = 1;
    loop {
        // The login is fetched right before each attempt: a token from the start of a long
        // build, or of a long backoff, may have expired.
        let login = login_for_host(&parsed.host, true, var).await?;
        if attempt == 1 {
            on_event(PublishEvent::Started {
                reference: reference.to_owned(),
                login_source: login.as_ref().map(|l| l.source.clone()),
            });
        }
        let mut forward = |event| {
            on_event(PublishEvent::Push {
                reference: reference.to_owned(),
                event,
            })
        };
        let result = push_image(
            api,
            &parsed.written_name,
            parsed.tag_or_latest(),
            login.as_ref(),
            &parsed.host,
            &mut forward,
        )
        .await;
        let registry_login = login.as_ref();
        let (held, config, size, despite) = match result {
            Ok(pushed) => {
                let could_not_confirm = |source| PublishError::NotConfirmed {
                    reference: reference.to_owned(),
                    source,
                };
                let confirmed = manifest_digest(&parsed, registry_login)
                    .await
                    .map_err(could_not_confirm)?;
                if confirmed.digest != pushed.digest {
                    return Err(PublishError::Raced {
                        reference: reference.to_owned(),
                        pushed: pushed.digest,
                        held: confirmed.digest,
                    });
                }
                let config = config_digest(
                    &parsed,
                    &confirmed.digest,
                    image.platform.as_ref(),
                    registry_login,
                )
                .await
                .map_err(could_not_confirm)?;
                let size = pushed.size.or(confirmed.size);
                (confirmed, config, size, None)
            }
            Err(err) if err.is_transient() && attempt < policy.attempts => {
                attempt += 1;
                let delay = policy.delay(attempt, crate::random::unit());
                on_event(PublishEvent::Retrying {
                    reference: reference.to_owned(),
                    attempt,
                    of: policy.attempts,
                    delay,
                    reason: err.to_string(),
                });
                tokio::time::sleep(delay).await;
                continue;
            }
            Err(err) => {
                let held = if err.may_have_reached_registry() {
                    held_by_registry(&parsed, image, registry_login).await
                } else {
                    None
                };
                let Some((held, config)) = held else {
                    return Err(push_error(reference, &parsed, login.as_ref(), err, attempt));
                };
                let size = held.size;
                (held, config, size, Some(crate::error::chain(&err)))
            }
        };
        on_event(PublishEvent::Done {
            reference: reference.to_owned(),
            digest: held.digest.clone(),
        });
        return Ok(Published {
            reference: reference.to_owned(),
            name: parsed.name(),
            digest: held.digest,
            config_digest: config,
            despite,
            media_type: held.media_type,
            size,
            duration: started.elapsed(),
        });
    }
}

/// After a failed push that may have reached the registry: what the registry's tag holds, when it is
/// `image`. It is when the tag's manifest is the image's id (the containerd store's id is the
/// pushed manifest's digest), or names the image's config (the classic store's id is the config
/// digest; a config learned from an earlier tag covers an engine that pushed one platform's
/// manifest in place of the index it holds). Any failure to ask is a no: nothing is assumed.
async fn held_by_registry(
    parsed: &Reference,
    image: &LocalIdentity,
    login: Option<&Login>,
) -> Option<(ManifestInfo, String)> {
    let held = manifest_digest(parsed, login).await.ok()?;
    let config = config_digest(parsed, &held.digest, image.platform.as_ref(), login)
        .await
        .ok()?;
    image.is(&held.digest, &config).then_some((held, config))
}

impl LocalIdentity {
    /// Whether a registry manifest `digest` naming the config blob `config` is this image.
    fn is(&self, digest: &str, config: &str) -> bool {
        digest == self.id || config == self.id || self.config_digest.as_deref() == Some(config)
    }
}

fn push_error(
    reference: &str,
    parsed: &Reference,
    login: Option<&Login>,
    err: PushError,
    attempts: u32,
) -> PublishError {
    match err {
        PushError::Denied { message } => PublishError::Denied {
            reference: reference.to_owned(),
            host: parsed.host.clone(),
            who: match login {
                Some(l) => format!("login `{}` from {}", l.username, l.source),
                None => "no login (none found)".to_owned(),
            },
            message,
        },
        PushError::Transient { message } => PublishError::Transient {
            reference: reference.to_owned(),
            attempts,
            message,
        },
        source => PublishError::Push {
            reference: reference.to_owned(),
            source,
        },
    }
}

/// Why a reference was not published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The reference does not parse.
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
    /// The registry's login could not be found.
    #[error(transparent)]
    Login(#[from] crate::credentials::registry::LoginError),
    /// The registry refused the login: never retried.
    #[error("the registry {host} refused {who} for {reference}: {message}")]
    Denied {
        reference: String,
        host: String,
        who: String,
        message: String,
    },
    /// The registry kept failing.
    #[error("could not push {reference} after {attempts} attempts: {message}")]
    Transient {
        reference: String,
        attempts: u32,
        message: String,
    },
    /// The push failed otherwise.
    #[error("could not push {reference}")]
    Push {
        reference: String,
        #[source]
        source: PushError,
    },
    /// The engine pushed, but the registry could not be asked what it holds.
    #[error("pushed {reference}, but could not confirm it")]
    NotConfirmed {
        reference: String,
        #[source]
        source: crate::registry::RegistryError,
    },
    /// The registry's tag names another manifest than the one pushed.
    #[error("pushed {reference} as {pushed}, but the registry now says {held}")]
    Raced {
        reference: String,
        pushed: String,
        held: String,
    },
}

impl UserError for PublishError {
    fn hint(&self) -> Option<String> {
        let hint = match self {
            PublishError::Reference(err) => return Some(err.hint()),
            PublishError::Login(err) => return UserError::hint(err),
            PublishError::Denied { .. } => {
                "check the credential, and that it may push to this repository; shipimg does not retry a refused login"
            }
            PublishError::Transient { .. } => {
                "the registry kept failing; try again later, or raise --push-attempts"
            }
            PublishError::Push { .. } => return None,
            PublishError::NotConfirmed { .. } => "check the registry answers at its /v2/ API",
            PublishError::Raced { .. } => "another push to the same tag raced this one; push again",
        };
        Some(hint.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_flags_make_a_policy() {
        let policy = RetryPolicy::new(0, 0.5);
        assert_eq!(policy.attempts, 1);
        assert_eq!(policy.max_delay, Duration::from_millis(500));
        assert_eq!(policy.base_delay, Duration::from_millis(500));
    }

    #[test]
    fn a_tag_holds_this_image_by_manifest_or_config_digest() {
        // Classic store: the id is the config digest; the manifest digest is the registry's.
        let classic = LocalIdentity {
            id: "sha256:config".into(),
            ..LocalIdentity::default()
        };
        assert!(classic.is("sha256:manifest", "sha256:config"));
        assert!(!classic.is("sha256:manifest", "sha256:older-config"));
        // Containerd store: the id is the pushed manifest's (or index's) digest.
        let containerd = LocalIdentity {
            id: "sha256:manifest".into(),
            ..LocalIdentity::default()
        };
        assert!(containerd.is("sha256:manifest", "sha256:config"));
        assert!(!containerd.is("sha256:other-manifest", "sha256:config"));
        // The engine pushed one platform's manifest in place of its index: the config an earlier
        // tag of this run showed still recognises it.
        let learned = LocalIdentity {
            id: "sha256:index".into(),
            config_digest: Some("sha256:config".into()),
            ..LocalIdentity::default()
        };
        assert!(learned.is("sha256:platform-manifest", "sha256:config"));
        assert!(!learned.is("sha256:platform-manifest", "sha256:other"));
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let policy = RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
        };
        assert_eq!(policy.delay(2, 0.0), Duration::from_millis(500));
        assert_eq!(policy.delay(2, 1.0), Duration::from_secs(1));
        assert_eq!(policy.delay(3, 1.0), Duration::from_secs(2));
        assert_eq!(policy.delay(4, 1.0), Duration::from_secs(4));
        assert_eq!(policy.delay(5, 1.0), Duration::from_secs(5));
        assert_eq!(policy.delay(30, 0.0), Duration::from_millis(2500));
        let j = crate::random::unit();
        assert!((0.0..1.0).contains(&j));
    }
}
