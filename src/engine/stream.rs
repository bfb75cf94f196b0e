//! The engine's streaming answers (`/build`, `/images/{name}/push`): JSON objects, one per
//! line, over a chunked body whose chunks do not respect line ends.

/// Splits a byte stream into lines.
#[derive(Default)]
pub struct LineDecoder {
    pending: Vec<u8>,
}

impl LineDecoder {
    /// Feeds a chunk; returns the complete, non-empty lines it finished.
    pub fn push(&mut self, data: &[u8]) -> Vec<Vec<u8>> {
        self.pending.extend_from_slice(data);
        let mut lines = Vec::new();
        while let Some(newline) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=newline).collect();
            let line = line.trim_ascii();
            if !line.is_empty() {
                lines.push(line.to_vec());
            }
        }
        lines
    }

    /// What is left after the stream ended (a last line without a newline).
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        let rest = std::mem::take(&mut self.pending);
        let rest = rest.trim_ascii();
        (!rest.is_empty()).then(|| rest.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks() {
        let mut decoder = LineDecoder::default();
        assert!(decoder.push(b"{\"stream\":\"a").is_empty());
        assert_eq!(
            decoder.push(b"\"}\n\n{\"x\":1}\n{"),
            [b"{\"stream\":\"a\"}".to_vec(), b"{\"x\":1}".to_vec()]
        );
        assert_eq!(decoder.finish(), Some(b"{".to_vec()));
        assert_eq!(decoder.finish(), None);
    }
}
