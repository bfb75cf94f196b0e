//! The engine's streaming answers (`/build`, `/images/{name}/push`): JSON objects, one per
//! line, over a chunked body whose chunks do not respect line ends.

use http_body_util::BodyExt;
use hyper::Response;
use hyper::body::Incoming;

/// How a streaming call ended before or while its lines were read.
#[derive(Debug)]
pub enum StreamError {
    /// The engine refused the request: its status and message.
    Rejected { status: u16, message: String },
    /// The connection broke mid-stream.
    Broken(std::io::Error),
}

/// Reads a streaming answer: a non-2xx status becomes [`StreamError::Rejected`] with the
/// engine's message; otherwise `handle` gets each JSON line as it arrives, the last one too.
pub async fn read_json_lines(
    response: Response<Incoming>,
    mut handle: impl FnMut(&[u8]),
) -> Result<(), StreamError> {
    if !response.status().is_success() {
        let (status, message) = super::transport::refusal(response).await;
        return Err(StreamError::Rejected { status, message });
    }
    let mut body = response.into_body();
    let mut decoder = LineDecoder::default();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| StreamError::Broken(std::io::Error::other(err)))?;
        if let Ok(data) = frame.into_data() {
            for line in decoder.push(&data) {
                handle(&line);
            }
        }
    }
    if let Some(line) = decoder.finish() {
        handle(&line);
    }
    Ok(())
}

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
