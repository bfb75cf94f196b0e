//! Engine API versions: the range shipimg speaks, the rule that picks the version to use with
//! an engine, and the one function that puts that version into a request path.
//!
//! The rule is the docker CLI's (`client.NegotiateAPIVersion`: the lower of the two newest
//! versions) plus what the CLI leaves to the engine: the version must not be below the engine's
//! minimum (Docker 29 refuses everything below 1.44) nor below shipimg's. When no version fits,
//! shipimg says so at connect, naming both ranges, instead of letting the first real call fail.
//!
//! Every request after negotiation carries `/v{version}/` in its path, ours and bollard's: an
//! unversioned path is served at the engine's *newest* version, so without the prefix shipimg
//! would get answers shaped for an API it has never been tested against.

use std::fmt;

use hyper::Uri;
use hyper::http::uri::PathAndQuery;

/// An Engine API version, `1.41`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    /// Always 1 so far.
    pub major: u32,
    /// Bumped by each Docker release.
    pub minor: u32,
}

/// The API versions shipimg speaks, oldest and newest.
///
/// - 1.39 (Docker 18.09) is the first API with BuildKit builds through `/build?version=2` and
///   the `/session` they need.
/// - 1.51 (Docker 28.3-28.5) is the newest API shipimg runs its test suite against. bollard
///   0.21.1's models are generated for 1.53, but claiming a version promises its semantics:
///   1.52 (Docker 29) changed `/images/{name}/get`, which the scan reads, and 1.53 deprecates
///   `POST /session` and `POST /grpc`, which every build uses. A newer engine still serves 1.51
///   (Docker 29's floor is 1.44), as it serves the docker 28 CLI. Raise this only together with a
///   test run against an engine that speaks the new version.
pub const SHIPIMG_API: ApiRange = ApiRange {
    min: ApiVersion::new(1, 39),
    max: ApiVersion::new(1, 51),
};

/// The Docker Engine release that brought [`SHIPIMG_API`]'s minimum, for the upgrade hint.
pub const OLDEST_DOCKER_RELEASE: &str = "18.09";

impl ApiVersion {
    /// `major.minor`.
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// `1.41` -> `1.41`; anything else -> `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let (major, minor) = text.trim().split_once('.')?;
        Some(Self::new(major.parse().ok()?, minor.parse().ok()?))
    }

    /// `uri` with its path under `/v{self}`: the one place shipimg builds a versioned path, for
    /// its own requests (origin-form, `/build?...`) and bollard's (absolute,
    /// `unix://HEX/info?...`). A version already in front (bollard's own, should a release put
    /// it back) is replaced, so a path never carries two.
    pub fn versioned_uri(self, uri: &Uri) -> Uri {
        let path_and_query = uri.path_and_query().map_or("/", PathAndQuery::as_str);
        let unversioned = strip_version(path_and_query);
        let versioned = format!("/v{self}{unversioned}");
        let mut parts = uri.clone().into_parts();
        parts.path_and_query = Some(
            PathAndQuery::try_from(versioned)
                .expect("a valid path stays valid under a `/vN.N` prefix"),
        );
        Uri::from_parts(parts).expect("only the path of a valid URI changed")
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// `/v1.41/info` -> `/info`; a path without a version stays as it is.
fn strip_version(path: &str) -> &str {
    let Some(rest) = path.strip_prefix("/v") else {
        return path;
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    if ApiVersion::parse(&rest[..end]).is_some() && rest[end..].starts_with('/') {
        &rest[end..]
    } else {
        path
    }
}

/// A closed range of API versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRange {
    /// The oldest version.
    pub min: ApiVersion,
    /// The newest version.
    pub max: ApiVersion,
}

impl fmt::Display for ApiRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.min, self.max)
    }
}

/// The versions an engine says it speaks (`ApiVersion` and `MinAPIVersion` of `/version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineApi {
    /// The newest version, also what an unversioned path gets.
    pub max: ApiVersion,
    /// The oldest version it accepts, when it says (every engine since API 1.21 does).
    pub min: Option<ApiVersion>,
}

impl fmt::Display for EngineApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.min {
            Some(min) => write!(f, "{min}-{}", self.max),
            None => write!(f, "up to {}", self.max),
        }
    }
}

/// Which side is too old when no version fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// The engine's newest version is older than shipimg's oldest: upgrade the engine.
    EngineTooOld,
    /// The engine's oldest version is newer than shipimg's newest: upgrade shipimg.
    ShipimgTooOld,
}

/// The version to speak with an engine: the newest both know, never below either minimum.
pub fn negotiate(engine: EngineApi, ours: ApiRange) -> Result<ApiVersion, Mismatch> {
    let version = engine.max.min(ours.max);
    if version < ours.min {
        return Err(Mismatch::EngineTooOld);
    }
    match engine.min {
        Some(floor) if version < floor => Err(Mismatch::ShipimgTooOld),
        _ => Ok(version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> ApiVersion {
        ApiVersion::parse(text).unwrap()
    }

    fn engine(min: &str, max: &str) -> EngineApi {
        EngineApi {
            min: Some(v(min)),
            max: v(max),
        }
    }

    #[test]
    fn versions_parse_and_order_numerically() {
        assert_eq!(v("1.41"), ApiVersion::new(1, 41));
        assert!(v("1.9") < v("1.10"), "1.10 is newer than 1.9");
        assert!(v("1.51") < v("2.0"));
        for bad in ["", "1", "1.", ".4", "1.x", "v1.41", "1.41.0"] {
            assert_eq!(ApiVersion::parse(bad), None, "{bad:?}");
        }
        assert_eq!(v("1.44").to_string(), "1.44");
        assert_eq!(SHIPIMG_API.to_string(), "1.39-1.51");
    }

    #[test]
    fn docker_20_10_gets_its_newest_version() {
        assert_eq!(
            negotiate(engine("1.12", "1.41"), SHIPIMG_API),
            Ok(v("1.41"))
        );
    }

    #[test]
    fn docker_28_with_the_1_44_floor_gets_its_newest_version() {
        assert_eq!(
            negotiate(engine("1.44", "1.51"), SHIPIMG_API),
            Ok(v("1.51"))
        );
        assert_eq!(
            negotiate(engine("1.24", "1.51"), SHIPIMG_API),
            Ok(v("1.51"))
        );
    }

    #[test]
    fn an_engine_newer_than_shipimg_is_spoken_to_at_shipimgs_newest() {
        // Docker 29: 1.44-1.52.
        assert_eq!(
            negotiate(engine("1.44", "1.52"), SHIPIMG_API),
            Ok(v("1.51"))
        );
        // A floor exactly at shipimg's newest still fits.
        assert_eq!(
            negotiate(engine("1.51", "1.60"), SHIPIMG_API),
            Ok(v("1.51"))
        );
    }

    #[test]
    fn the_ends_of_shipimgs_range_are_inclusive() {
        assert_eq!(
            negotiate(engine("1.12", "1.39"), SHIPIMG_API),
            Ok(v("1.39"))
        );
        assert_eq!(
            negotiate(engine("1.12", "1.38"), SHIPIMG_API),
            Err(Mismatch::EngineTooOld)
        );
        assert_eq!(
            negotiate(engine("1.52", "1.60"), SHIPIMG_API),
            Err(Mismatch::ShipimgTooOld)
        );
    }

    #[test]
    fn an_engine_without_a_minimum_is_judged_by_its_newest_version() {
        let old = EngineApi {
            min: None,
            max: v("1.38"),
        };
        assert_eq!(negotiate(old, SHIPIMG_API), Err(Mismatch::EngineTooOld));
        assert_eq!(old.to_string(), "up to 1.38");
        let new = EngineApi {
            min: None,
            max: v("1.60"),
        };
        assert_eq!(negotiate(new, SHIPIMG_API), Ok(v("1.51")));
    }

    #[test]
    fn a_nonsensical_engine_range_is_refused_not_trusted() {
        assert!(negotiate(engine("1.50", "1.45"), SHIPIMG_API).is_err());
    }

    #[test]
    fn versioned_uris_keep_scheme_authority_and_query() {
        let version = v("1.41");
        let ours: Uri = "/build?version=2&t=a%2Fb".parse().unwrap();
        assert_eq!(
            version.versioned_uri(&ours).to_string(),
            "/v1.41/build?version=2&t=a%2Fb"
        );
        // bollard's URIs over a unix socket: the socket path hex-encoded as the host.
        let bollard: Uri = "unix://2f7661722f72756e/info".parse().unwrap();
        assert_eq!(
            version.versioned_uri(&bollard).to_string(),
            "unix://2f7661722f72756e/v1.41/info"
        );
        let tcp: Uri = "http://127.0.0.1:2375/images/a/json?x=1".parse().unwrap();
        assert_eq!(
            version.versioned_uri(&tcp).to_string(),
            "http://127.0.0.1:2375/v1.41/images/a/json?x=1"
        );
    }

    #[test]
    fn a_version_already_in_the_path_is_replaced_not_doubled() {
        let version = v("1.41");
        let bollard_fixed: Uri = "unix://2f78/v1.53/version".parse().unwrap();
        assert_eq!(
            version.versioned_uri(&bollard_fixed).to_string(),
            "unix://2f78/v1.41/version"
        );
        let twice = version.versioned_uri(&version.versioned_uri(&"/_ping".parse().unwrap()));
        assert_eq!(twice.to_string(), "/v1.41/_ping");
        // Paths that only look like a version stay.
        for path in ["/volumes", "/vx.1/y", "/v1.41x/y"] {
            let uri: Uri = path.parse().unwrap();
            assert_eq!(
                version.versioned_uri(&uri).to_string(),
                format!("/v1.41{path}"),
                "{path}"
            );
        }
    }
}
