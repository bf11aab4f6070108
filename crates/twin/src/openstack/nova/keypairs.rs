//! Nova's key pairs (`os-keypairs`) of one simulated site. Nova keeps them per user: the
//! caller sees their own, an admin anyone's with `user_id` (>= 2.10), and a server create
//! takes only a `key_name` of the caller's (400 `Invalid key_name provided.` otherwise).
//!
//! | method | path (under `/compute/v2.1`) | answer |
//! |---|---|---|
//! | GET | `/os-keypairs` | the user's key pairs by name; `user_id` (>= 2.10), `limit`/`marker` and `keypairs_links` (>= 2.35) |
//! | POST | `/os-keypairs` | import (`public_key`) or, below 2.92, generate (the answer carries `private_key`); 200, 201 from 2.2; 409 `Key pair 'N' already exists.` |
//! | GET | `/os-keypairs/{name}` | one, with its owner and record fields; `user_id` (>= 2.10); 404 `Keypair N not found for user U` |
//! | DELETE | `/os-keypairs/{name}` | 202, 204 from 2.2; `user_id` (>= 2.10) |
//!
//! The fixture names the key pairs a site starts with (`keypairs:`). Generated pairs are
//! ed25519 (Nova makes RSA ones; clients read both alike), `x509` pairs are left out (400).
//! Policy is Nova's default: admins, or the owner (`user_id:%(user_id)s`); a user may have 100
//! (Nova's `key_pairs` quota; beyond it 403).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use md5::{Digest, Md5};
use serde_json::Value;

use super::{
    Api, Failure, bad_request, fail, invalid_input, known_params, limit_and_marker, model,
    next_link, parse_body, python_repr,
};
use crate::flasharray::query::{base64_decode, base64_encode};
use crate::openstack::state::KeyPair;
use crate::world::Site;
use crate::world::SiteContext;
use protector_wire::ids::IdGen;

/// Whether `user_id` has a key pair called `name`.
pub fn exists(site: &Site, user_id: &str, name: &str) -> bool {
    site.compute
        .keypairs
        .iter()
        .any(|keypair| keypair.user_id == user_id && keypair.name == name)
}

/// Nova's fingerprint of an OpenSSH public key: the MD5 of the key blob, as `aa:bb:...`; None
/// for text that is not `TYPE BASE64 [COMMENT]`.
pub fn fingerprint(public_key: &str) -> Option<String> {
    let blob = base64_decode(public_key.split_whitespace().nth(1)?)?;
    let digest = Md5::digest(&blob);
    Some(
        digest
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// An ed25519 public key of the twin's own, the same for the same `seed` (no private key
/// exists for it: fixture key pairs are only ever named, never used to log in).
pub fn generated_public_key(seed: &str, comment: &str) -> String {
    let mut ids = IdGen::new(protector_wire::ids::fnv(seed));
    let key: Vec<u8> = (0..4).flat_map(|_| ids.next_u64().to_be_bytes()).collect();
    openssh_ed25519(&key, comment)
}

/// An ed25519 public key in OpenSSH format: the blob (`ssh-ed25519` and the key bytes, each
/// length-prefixed) in base64, and a comment.
fn openssh_ed25519(key: &[u8], comment: &str) -> String {
    const KIND: &[u8] = b"ssh-ed25519";
    let mut blob = Vec::with_capacity(8 + KIND.len() + key.len());
    blob.extend_from_slice(&(KIND.len() as u32).to_be_bytes());
    blob.extend_from_slice(KIND);
    blob.extend_from_slice(&(key.len() as u32).to_be_bytes());
    blob.extend_from_slice(key);
    format!("ssh-ed25519 {} {comment}", base64_encode(&blob))
}

/// A new key pair, as a create without `public_key` makes one: the public key in OpenSSH
/// format and the private key in PEM (PKCS #8).
fn generate() -> Result<(String, String), Failure> {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(|error| {
        fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Unexpected API Error. The twin could not generate a key: {error}"),
        )
    })?;
    Ok((
        openssh_ed25519(pair.public_key_raw(), "Generated-by-Nova"),
        pair.serialize_pem(),
    ))
}

/// Nova's default `key_pairs` quota.
const QUOTA: usize = 100;

/// The user whose key pairs a request is about: `user_id` (>= 2.10) or the caller; the policy
/// lets admins and the owner through.
fn owner(api: &Api, query: &[(String, String)], rule: &str) -> Result<String, Failure> {
    let asked = query
        .iter()
        .find(|(key, _)| key == "user_id")
        .map(|(_, value)| value.clone())
        .filter(|_| api.at_least(10));
    let user_id = asked.unwrap_or_else(|| api.token.user_id.clone());
    api.policy(
        api.is_admin() || user_id == api.token.user_id,
        &format!("os-keypairs:{rule}"),
    )?;
    Ok(user_id)
}

/// Which of Nova's key pair views (`views/keypairs.py`): each shows more than the one before.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Shape {
    /// Name, key, fingerprint (and type).
    Index,
    /// And the owner.
    Create,
    /// And the record's fields.
    Show,
}

fn view(api: &Api, keypair: &KeyPair, shape: Shape) -> model::Keypair {
    let full = shape == Shape::Show;
    model::Keypair {
        name: keypair.name.clone(),
        public_key: keypair.public_key.clone(),
        fingerprint: keypair.fingerprint.clone(),
        private_key: None,
        key_type: api.at_least(2).then(|| "ssh".to_string()),
        user_id: (shape >= Shape::Create).then(|| keypair.user_id.clone()),
        id: full.then_some(keypair.id),
        deleted: full.then_some(false),
        created_at: full.then(|| {
            keypair
                .created_at
                .format("%Y-%m-%dT%H:%M:%S%.6f")
                .to_string()
        }),
        updated_at: full.then_some(None),
        deleted_at: full.then_some(None),
    }
}

pub(super) async fn index(
    State(ctx): State<SiteContext>,
    api: Api,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let result = (|| {
        let mut known = Vec::new();
        if api.at_least(10) {
            known.push("user_id");
        }
        if api.at_least(35) {
            known.extend(["limit", "marker"]);
        }
        known_params(&api, &query, &known)?;
        let user_id = owner(&api, &query, "index")?;
        let (limit, marker) = if api.at_least(35) {
            limit_and_marker(&query)?
        } else {
            (None, None)
        };
        let site = ctx.lock();
        let mut keypairs: Vec<&KeyPair> = site
            .compute
            .keypairs
            .iter()
            .filter(|keypair| keypair.user_id == user_id)
            .collect();
        keypairs.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(marker) = &marker {
            if !keypairs.iter().any(|keypair| keypair.name == *marker) {
                return Err(bad_request(format!("Marker {marker} could not be found.")));
            }
            keypairs.retain(|keypair| keypair.name > *marker);
        }
        let page_size = limit.unwrap_or(super::MAX_LIMIT).min(super::MAX_LIMIT);
        keypairs.truncate(page_size);
        let links = if api.at_least(35) {
            next_link(&api, &query, "os-keypairs", page_size, &keypairs, |k| {
                &k.name
            })
        } else {
            None
        };
        Ok(model::KeypairsList {
            keypairs: keypairs
                .into_iter()
                .map(|keypair| model::KeypairResponse {
                    keypair: view(&api, keypair, Shape::Index),
                })
                .collect(),
            keypairs_links: links,
        })
    })();
    api.done(StatusCode::OK, result)
}

pub(super) async fn show(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(name): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let result = (|| {
        let known: &[&str] = if api.at_least(10) { &["user_id"] } else { &[] };
        known_params(&api, &query, known)?;
        let user_id = owner(&api, &query, "show")?;
        let site = ctx.lock();
        site.compute
            .keypairs
            .iter()
            .find(|keypair| keypair.user_id == user_id && keypair.name == name)
            .map(|keypair| model::KeypairResponse {
                keypair: view(&api, keypair, Shape::Show),
            })
            .ok_or_else(|| {
                fail(
                    StatusCode::NOT_FOUND,
                    format!("Keypair {name} not found for user {user_id}"),
                )
            })
    })();
    api.done(StatusCode::OK, result)
}

pub(super) async fn delete(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(name): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let result = (|| {
        let known: &[&str] = if api.at_least(10) { &["user_id"] } else { &[] };
        known_params(&api, &query, known)?;
        let user_id = owner(&api, &query, "delete")?;
        let mut site = ctx.lock();
        let before = site.compute.keypairs.len();
        site.compute
            .keypairs
            .retain(|keypair| !(keypair.user_id == user_id && keypair.name == name));
        if site.compute.keypairs.len() == before {
            return Err(fail(
                StatusCode::NOT_FOUND,
                format!("Keypair {name} not found for user {user_id}"),
            ));
        }
        Ok(())
    })();
    match result {
        Ok(()) if api.at_least(2) => api.empty(StatusCode::NO_CONTENT),
        Ok(()) => api.empty(StatusCode::ACCEPTED),
        Err(failure) => api.error(failure),
    }
}

/// The create body checked as Nova's schemas (`create` .. `create_v292`) do.
fn validate(api: &Api, body: &Value) -> Result<model::NewKeypair, Failure> {
    let Some(keypair) = body.get("keypair").and_then(Value::as_object) else {
        return Err(invalid_input("", body, "'keypair' is a required property"));
    };

    let whole = Value::Object(keypair.clone());
    let mut allowed = vec!["name", "public_key"];
    if api.at_least(2) {
        allowed.push("type");
    }
    if api.at_least(10) {
        allowed.push("user_id");
    }
    if let Some(key) = keypair.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Err(invalid_input(
            "keypair",
            &whole,
            format!("Additional properties are not allowed ('{key}' was unexpected)"),
        ));
    }
    let mut required = vec!["name"];
    if api.at_least(92) {
        required.push("public_key");
    }
    if let Some(missing) = required.iter().find(|key| !keypair.contains_key(**key)) {
        return Err(invalid_input(
            "keypair",
            &whole,
            format!("'{missing}' is a required property"),
        ));
    }
    // `keypair_name_special_chars`, and from 2.92 `@` and `.` too.
    let name_value = &keypair["name"];
    let name = name_value.as_str().unwrap_or_default();
    let allowed_char = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '_' | '-' | ' ')
            || (api.at_least(92) && matches!(c, '@' | '.'))
    };

    if !name_value.is_string()
        || name.is_empty()
        || name.chars().count() > 255
        || name.trim() != name
        || !name.chars().all(allowed_char)
    {
        return Err(invalid_input(
            "name",
            name_value,
            format!("{} is not a valid name", python_repr(name_value)),
        ));
    }
    if let Some(kind) = keypair.get("type")
        && !matches!(kind.as_str(), Some("ssh" | "x509"))
    {
        return Err(invalid_input(
            "type",
            kind,
            format!("{} is not one of ['ssh', 'x509']", python_repr(kind)),
        ));
    }
    for key in ["public_key", "user_id"] {
        if let Some(value) = keypair.get(key)
            && !value.is_string()
        {
            return Err(invalid_input(key, value, "is not of type 'string'"));
        }
    }
    serde_json::from_value(whole.clone()).map_err(|error| invalid_input("keypair", &whole, error))
}

pub(super) async fn create(State(ctx): State<SiteContext>, api: Api, body: Bytes) -> Response {
    let result = (|| {
        let body = parse_body(&body)?;
        let request = validate(&api, &body)?;
        let asked = request.user_id.clone().filter(|_| api.at_least(10));
        let user_id = asked.unwrap_or_else(|| api.token.user_id.clone());
        api.policy(
            api.is_admin() || user_id == api.token.user_id,
            "os-keypairs:create",
        )?;
        if request.key_type.as_deref() == Some("x509") {
            return Err(bad_request(
                "Keypair data is invalid: the twin keeps ssh key pairs only",
            ));
        }
        let (public_key, private_key) = match request.public_key {
            Some(public_key) => (public_key, None),
            None => {
                let (public_key, private_key) = generate()?;
                (public_key, Some(private_key))
            }
        };
        let fingerprint = fingerprint(&public_key).ok_or_else(|| {
            bad_request("Keypair data is invalid: failed to generate fingerprint")
        })?;
        let mut site = ctx.lock();
        let owned = site
            .compute
            .keypairs
            .iter()
            .filter(|keypair| keypair.user_id == user_id)
            .count();
        if owned >= QUOTA {
            return Err(fail(
                StatusCode::FORBIDDEN,
                "Quota exceeded, too many key pairs.",
            ));
        }
        if exists(&site, &user_id, &request.name) {
            return Err(fail(
                StatusCode::CONFLICT,
                format!("Key pair '{}' already exists.", request.name),
            ));
        }
        let keypair = KeyPair {
            id: site
                .compute
                .keypairs
                .iter()
                .map(|keypair| keypair.id)
                .max()
                .unwrap_or(0)
                + 1,
            name: request.name,
            user_id,
            public_key,
            fingerprint,
            created_at: site.clock.wall(),
        };
        let mut shown = view(&api, &keypair, Shape::Create);
        shown.private_key = private_key;
        site.compute.keypairs.push(keypair);
        Ok(model::KeypairResponse { keypair: shown })
    })();
    let status = if api.at_least(2) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };

    api.done(status, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_md5_of_the_key_blob() {
        // The key and fingerprint of Nova's API sample (keypairs-get-resp.json).
        let key = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC1HTrHCbb9NawNLSV8N6tSa8i637+EC2dA+lsdHHfQlT54t+N0nHhJPlKWDLhc579j87vp6RDFriFJ/smsTnDnf64O12z0kBaJpJPH2zXrBkZFK6q2rmxydURzX/z0yLSCP77SFJ0fdXWH2hMsAusflGyryHGX20n+mZK6mDrxVzGxEz228dwQ5G7Az5OoZDWygH2pqPvKjkifRw0jwUKf3BbkP0QvANACOk26cv16mNFpFJfI1N3OC5lUsZQtKGR01ptJoWijYKccqhkAKuo902tg/qup58J5kflNm7I61sy1mJon6SGqNUSfoQagqtBH6vd/tU1jnlwZ03uUroAL Generated-by-Nova\n";
        assert_eq!(
            fingerprint(key).as_deref(),
            Some("44:fe:29:6e:23:14:b9:53:5b:65:82:58:1c:fe:5a:c3")
        );
        assert_eq!(fingerprint("ssh-rsa"), None);
        assert_eq!(fingerprint("ssh-rsa !!!"), None);
    }

    #[test]
    fn generated_keys_are_openssh_ed25519_and_stable() {
        let key = generated_public_key("site-a/protector/ops", "protector@site-a");
        assert_eq!(
            key,
            generated_public_key("site-a/protector/ops", "protector@site-a")
        );
        assert_ne!(
            key,
            generated_public_key("site-b/protector/ops", "protector@site-a")
        );
        let words: Vec<&str> = key.split(' ').collect();
        assert_eq!(words[0], "ssh-ed25519");
        assert_eq!(words[2], "protector@site-a");
        let blob = base64_decode(words[1]).unwrap();
        assert_eq!(blob.len(), 4 + 11 + 4 + 32);
        assert_eq!(&blob[4..15], b"ssh-ed25519");
        assert!(fingerprint(&key).is_some());
    }
}

#[cfg(test)]
mod api_tests {
    use super::super::testing::*;
    use axum::http::StatusCode;
    use protector_wire::nova as model;
    use serde_json::Value;
    use serde_json::json;

    #[tokio::test]
    async fn key_pairs_are_listed_shown_created_imported_and_deleted() {
        let twin = Twin::new(100_000.0);
        let list = twin.nova("GET", "/os-keypairs", "2.35", None).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        let ops = &list.body["keypairs"][0]["keypair"];
        assert_eq!(ops["name"], "ops");
        assert_eq!(ops["type"], "ssh");
        assert!(
            ops["public_key"]
                .as_str()
                .unwrap()
                .starts_with("ssh-ed25519 ")
        );
        assert!(ops.get("user_id").is_none(), "the list shows no owner");

        let show = twin.nova("GET", "/os-keypairs/ops", "2.10", None).await;
        assert_eq!(show.status, StatusCode::OK);
        let keypair: model::KeypairResponse = serde_json::from_value(show.body.clone()).unwrap();
        assert_eq!(keypair.keypair.deleted, Some(false));
        assert_eq!(keypair.keypair.updated_at, Some(None));
        assert!(keypair.keypair.user_id.is_some() && keypair.keypair.id.is_some());

        // An import: the fingerprint of Nova's own sample (v2.92/keypairs-import-post-*.json).
        let key = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDx8nkQv/zgGgB4rMYmIf+6A4l6Rr+o/6lHBQdW5aYd44bd8JttDCE/F/pNRr0lRE+PiqSPO8nDPHw0010JeMH9gYgnnFlyY3/OcJ02RhIPyyxYpv9FhY+2YiUkpwFOcLImyrxEsYXpD/0d3ac30bNH6Sw9JD9UZHYcpSxsIbECHw== Generated-by-Nova";
        let import = json!({"keypair": {"name": "me.and.myself@this.nice.domain.com mooh.", "type": "ssh", "public_key": key}});
        let created = twin
            .nova("POST", "/os-keypairs", "2.92", Some(import.clone()))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert_eq!(
            created.body["keypair"]["fingerprint"],
            "1e:2c:9b:56:79:4b:45:77:f9:ca:7a:98:2c:b0:d5:3c"
        );
        assert!(created.body["keypair"]["user_id"].is_string());
        let again = twin
            .nova("POST", "/os-keypairs", "2.92", Some(import))
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(
            again.body["conflictingRequest"]["message"],
            "Key pair 'me.and.myself@this.nice.domain.com mooh.' already exists."
        );
        // `@` and `.` in names only from 2.92.
        let dotted = json!({"keypair": {"name": "a.b", "public_key": key}});
        let old = twin
            .nova("POST", "/os-keypairs", "2.91", Some(dotted))
            .await;
        assert_eq!(old.status, StatusCode::BAD_REQUEST);

        // Generated below 2.92 (the only copy of the private key is in the answer), refused
        // from it.
        let generate = json!({"keypair": {"name": "made"}});
        let made = twin
            .nova("POST", "/os-keypairs", "2.10", Some(generate.clone()))
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let private = made.body["keypair"]["private_key"].as_str().unwrap();
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
        let refused = twin
            .nova("POST", "/os-keypairs", "2.92", Some(generate))
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(
            refused.body["badRequest"]["message"]
                .as_str()
                .unwrap()
                .ends_with("'public_key' is a required property"),
            "{}",
            refused.body
        );

        let deleted = twin.nova("DELETE", "/os-keypairs/made", "2.2", None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let gone = twin.nova("GET", "/os-keypairs/made", "2.2", None).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        let user_id = keypair.keypair.user_id.unwrap();
        assert_eq!(
            gone.body["itemNotFound"]["message"],
            format!("Keypair made not found for user {user_id}")
        );

        // A boot names a key pair of the caller's.
        let reply = boot(
            &twin,
            "keyless",
            "2.1",
            json!({"key_name": "nope"}),
            Value::Null,
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.body["badRequest"]["message"],
            "Invalid key_name provided."
        );
    }
}
