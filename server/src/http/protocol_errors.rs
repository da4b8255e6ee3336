//! Problem details for the requests hyper refuses itself.
//!
//! hyper answers a request it cannot parse (a malformed request line, a URI
//! over 64 KiB, too many or too large headers) with an empty 400, 414 or
//! 431 of its own, before any service sees the request, and offers no hook
//! to change that answer. This wrapper around the connection's socket
//! recognises those answers as hyper writes them and sends problem details
//! with an `X-Request-Id` in their place, as the API promises for every
//! answer. hyper closes the connection after them, so nothing follows.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::answers::problem::ProblemKind;

/// A connection's socket, with hyper's own error answers rewritten.
#[derive(Debug)]
pub struct ProtocolErrorRewrite<T> {
    inner: T,
    /// A rewritten answer not yet fully written, and how much of it was.
    pending: Option<(Vec<u8>, usize)>,
}

impl<T> ProtocolErrorRewrite<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: None,
        }
    }

    pub fn get_ref(&self) -> &T {
        &self.inner
    }
}

/// The problem for an answer that hyper wrote itself, if `head` is one: a
/// complete response head with an empty body and one of the statuses hyper
/// sends for parse errors. The service's own error answers always carry a
/// problem body, so they never match.
fn rewrite(head: &[u8]) -> Option<Vec<u8>> {
    let (status, kind, detail) = match head.get(..13)? {
        b"HTTP/1.1 400 " => (
            400,
            ProblemKind::InvalidRequest,
            "The request is not valid HTTP/1.1",
        ),
        b"HTTP/1.1 414 " => (
            414,
            ProblemKind::UriTooLong,
            "The request target is longer than the server accepts",
        ),
        b"HTTP/1.1 431 " => (
            431,
            ProblemKind::HeaderFieldsTooLarge,
            "The request has more header fields, or larger ones, than the server accepts",
        ),
        _ => return None,
    };
    let text = std::str::from_utf8(head).ok()?;
    let headers = text.strip_suffix("\r\n\r\n")?;
    if !headers
        .split("\r\n")
        .any(|line| line.eq_ignore_ascii_case("content-length: 0"))
    {
        return None;
    }
    let status_line = headers.split("\r\n").next()?;
    // hyper's Date header, kept as it was.
    let date = headers
        .split("\r\n")
        .find(|line| line.len() > 5 && line[..5].eq_ignore_ascii_case("date:"));
    let body = serde_json::to_vec(&kind.with_detail(detail)).ok()?;
    let request_id = uuid::Uuid::new_v4();
    // As the access log does for every answer of 400 or more, so that the
    // id a client quotes finds this line.
    tracing::info!(
        %request_id,
        status,
        detail,
        "request refused before it was read whole"
    );
    let mut answer = format!(
        "{status_line}\r\ncontent-type: {}\r\ncontent-length: {}\r\nx-request-id: {request_id}\r\nconnection: close\r\n",
        crate::answers::problem::CONTENT_TYPE,
        body.len(),
    );
    if let Some(date) = date {
        answer.push_str(date);
        answer.push_str("\r\n");
    }
    answer.push_str("\r\n");
    let mut answer = answer.into_bytes();
    answer.extend_from_slice(&body);
    Some(answer)
}

impl<T: AsyncWrite + Unpin> ProtocolErrorRewrite<T> {
    /// Writes what is left of a rewritten answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((answer, written)) = &mut self.pending {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &answer[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
            if *written == answer.len() {
                self.pending = None;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ProtocolErrorRewrite<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProtocolErrorRewrite<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if let Some(answer) = rewrite(buf) {
            // hyper is told its answer went out; ours goes in its place.
            self.pending = Some((answer, 0));
            let _ = self.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // Not vectored: hyper then hands each answer's head over in one buffer,
    // which is what `rewrite` inspects. Answers are small; the copy is cheap.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const DATE: &str = "date: Wed, 25 Nov 2026 18:50:16 GMT";

    fn hyper_answer(status: &str) -> Vec<u8> {
        format!("HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: 0\r\n{DATE}\r\n\r\n")
            .into_bytes()
    }

    #[rstest]
    #[case("400 Bad Request", 400)]
    #[case("414 URI Too Long", 414)]
    #[case("431 Request Header Fields Too Large", 431)]
    fn hyper_error_answers_become_problems(#[case] status_line: &str, #[case] status: u16) {
        let answer = rewrite(&hyper_answer(status_line)).expect("rewritten");
        let answer = String::from_utf8(answer).expect("UTF-8");
        let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.starts_with(&format!("HTTP/1.1 {status_line}\r\n")));
        assert!(head.contains("\r\ncontent-type: application/problem+json\r\n"));
        assert!(head.contains(&format!("\r\ncontent-length: {}\r\n", body.len())));
        assert!(head.contains("\r\nx-request-id: "));
        assert!(head.contains(DATE));
        let problem: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(problem["status"], status);
    }

    #[rstest]
    #[case::a_service_answer_with_a_body(
        b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 120\r\n\r\n".as_slice()
    )]
    #[case::another_status(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".as_slice())]
    #[case::a_success(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".as_slice())]
    #[case::a_body_chunk(b"{\"type\":\"/problems/invalid-request\"}".as_slice())]
    fn other_writes_pass_unchanged(#[case] bytes: &[u8]) {
        assert_eq!(rewrite(bytes), None);
    }
}
