//! Deterministic identifiers: the same fixture and `--seed` give the same UUIDs, tokens and MAC
//! addresses, so tests and rehearsals are reproducible.

/// A splitmix64 stream: tiny, fast, and good enough for identifiers (not for secrets).
#[derive(Debug, Clone)]
pub struct IdGen {
    state: u64,
}

impl IdGen {
    pub fn new(seed: u64) -> Self {
        IdGen { state: seed }
    }

    /// A stream for one site, independent of the other sites' streams.
    pub fn for_site(seed: u64, site: &str) -> Self {
        let mixed = site
            .bytes()
            .fold(seed ^ 0x9e37_79b9_7f4a_7c15, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
            });
        IdGen::new(mixed)
    }

    /// A stream of its own for the object `name` (unique within its site): what the twin makes
    /// in the background, on its own clock (replicated snapshots), gets ids from its name, so
    /// the ids of what clients create do not depend on when the background work happens.
    pub fn for_name(site: &str, name: &str) -> Self {
        IdGen::new(fnv(&format!("{site}/{name}")))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A version-4-shaped UUID, lowercase with hyphens, as OpenStack returns them.
    pub fn uuid(&mut self) -> String {
        let (high, low) = (self.next_u64(), self.next_u64());
        let high = (high & !0xf000) | 0x4000; // version 4
        let low = (low & !(0xc << 60)) | (0x8 << 60); // RFC 4122 variant
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xffff,
            high & 0xffff,
            low >> 48,
            low & 0xffff_ffff_ffff
        )
    }

    /// `len` lowercase hex digits (tokens, request ids, array serials).
    pub fn hex(&mut self, len: usize) -> String {
        let mut text = String::with_capacity(len + 16);
        while text.len() < len {
            text.push_str(&format!("{:016x}", self.next_u64()));
        }
        text.truncate(len);
        text
    }

    /// A locally administered unicast MAC address (`fa:16:3e:..` like Neutron's default base).
    pub fn mac(&mut self) -> String {
        let value = self.next_u64();
        format!(
            "fa:16:3e:{:02x}:{:02x}:{:02x}",
            (value >> 16) & 0xff,
            (value >> 8) & 0xff,
            value & 0xff
        )
    }
}

/// FNV-1a of `text`: stable seeds and short stable names.
pub fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_ids_and_sites_differ() {
        let mut a = IdGen::for_site(7, "site-a");
        let mut again = IdGen::for_site(7, "site-a");
        let mut b = IdGen::for_site(7, "site-b");
        let first = a.uuid();
        assert_eq!(first, again.uuid());
        assert_ne!(first, b.uuid());
    }

    #[test]
    fn uuids_have_the_canonical_shape() {
        let id = IdGen::new(1).uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert!(matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert_eq!(IdGen::new(1).hex(40).len(), 40);
        assert!(IdGen::new(1).mac().starts_with("fa:16:3e:"));
    }
}
