//! Pushing images to their registries: one push per tag through the engine, retried with
//! exponential backoff and jitter when the failure is transient, never when the registry refuses
//! the login, and confirmed afterwards by asking the registry which manifest the tag points at.

use std::time::{Duration, Instant};

use crate::credentials::registry::{ResolvedLogin, login_for_host};
use crate::engine::push::{PushAuth, PushError, PushEvent, push_image};
use crate::engine::transport::Api;
use crate::error::CliError;
use crate::registry::{Reference, manifest_digest};

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

/// One pushed tag.
#[derive(Debug, Clone)]
pub struct Published {
    /// `host/repo:tag` as given.
    pub reference: String,
    /// `host/repo` (no tag).
    pub name: String,
    /// The manifest digest the registry reports for the tag.
    pub digest: String,
    /// The manifest's media type, when the registry said.
    pub media_type: Option<String>,
    /// The manifest's size, when known.
    pub size: Option<u64>,
    /// How long it took.
    pub duration: Duration,
}

/// Pushes one reference, retrying transient failures, and confirms the digest.
pub async fn publish(
    api: &Api,
    reference: &str,
    policy: RetryPolicy,
    var: &dyn Fn(&str) -> Option<String>,
    on_event: &mut (dyn FnMut(PublishEvent) + Send),
) -> Result<Published, CliError> {
    let started = Instant::now();
    let parsed = Reference::parse(reference);
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
        let auth = login.as_ref().map(|l| push_auth(l, &parsed.host));
        let mut forward = |event| {
            on_event(PublishEvent::Push {
                reference: reference.to_owned(),
                event,
            })
        };
        let result = push_image(
            api,
            &parsed.written_name,
            &parsed.tag,
            auth.as_ref(),
            &mut forward,
        )
        .await;
        match result {
            Ok(pushed) => {
                let confirmed = manifest_digest(
                    &parsed,
                    login.as_ref().map(|l| (l.username.as_str(), &l.secret)),
                )
                .await
                .map_err(|err| {
                    CliError::user(format!(
                        "pushed {reference}, but could not confirm it: {err}"
                    ))
                    .with_hint("check the registry answers at its /v2/ API")
                })?;
                if confirmed.digest != pushed.digest {
                    return Err(CliError::user(format!(
                        "pushed {reference} as {}, but the registry now says {}",
                        pushed.digest, confirmed.digest
                    ))
                    .with_hint("another push to the same tag raced this one; push again"));
                }
                on_event(PublishEvent::Done {
                    reference: reference.to_owned(),
                    digest: confirmed.digest.clone(),
                });
                return Ok(Published {
                    reference: reference.to_owned(),
                    name: parsed.name(),
                    digest: confirmed.digest,
                    media_type: confirmed.media_type,
                    size: pushed.size.or(confirmed.size),
                    duration: started.elapsed(),
                });
            }
            Err(err) if err.is_transient() && attempt < policy.attempts => {
                attempt += 1;
                let delay = policy.delay(attempt, jitter());
                on_event(PublishEvent::Retrying {
                    reference: reference.to_owned(),
                    attempt,
                    of: policy.attempts,
                    delay,
                    reason: err.to_string(),
                });
                tokio::time::sleep(delay).await;
            }
            Err(err) => return Err(push_error(reference, &parsed, login.as_ref(), err, attempt)),
        }
    }
}

fn push_auth(login: &ResolvedLogin, host: &str) -> PushAuth {
    PushAuth {
        username: login.username.clone(),
        secret: login.secret.clone(),
        identity_token: login.identity_token,
        server: host.to_owned(),
    }
}

fn push_error(
    reference: &str,
    parsed: &Reference,
    login: Option<&ResolvedLogin>,
    err: PushError,
    attempts: u32,
) -> CliError {
    match err {
        PushError::Denied { message } => {
            let who = match login {
                Some(l) => format!("login `{}` from {}", l.username, l.source),
                None => "no login (none found)".to_owned(),
            };
            CliError::user(format!(
                "the registry {} refused {who} for {reference}: {message}",
                parsed.host
            ))
            .with_hint("check the credential, and that it may push to this repository; shipimg does not retry a refused login")
        }
        PushError::Transient { message } => CliError::user(format!(
            "could not push {reference} after {attempts} attempts: {message}"
        ))
        .with_hint("the registry kept failing; try again later, or raise --push-attempts"),
        other => CliError::user(format!("could not push {reference}: {other}")),
    }
}

/// A number in [0, 1) from the clock and the process id: jitter needs no cryptography.
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let mixed = (u64::from(nanos) ^ (u64::from(std::process::id()) << 17))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let j = jitter();
        assert!((0.0..1.0).contains(&j));
    }
}
