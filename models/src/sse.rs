//! Server-sent events (the WHATWG `text/event-stream` format), as both providers stream:
//! `event:` and `data:` lines, an event ending at a blank line. Bytes go in as they arrive, in
//! pieces of any size; whole events come out. No I/O here.

use crate::ModelError;

/// The most bytes one event (its lines together) may take.
pub(crate) const MAX_EVENT_BYTES: usize = 1 << 20;

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// Its `event:` name, if it had one.
    pub(crate) event: Option<String>,
    /// Its `data:` lines, joined by `\n`.
    pub(crate) data: String,
}

/// Turns a byte stream into events.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
    pending: usize,
}

impl SseParser {
    /// Feeds the next bytes; returns the events they complete.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, ModelError> {
        let mut events = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                let line = std::mem::take(&mut self.line);
                if let Some(event) = self.line_done(line)? {
                    events.push(event);
                }
            } else {
                self.line.push(b);
                self.pending += 1;
                if self.pending > MAX_EVENT_BYTES {
                    return Err(ModelError::Malformed(format!(
                        "a streamed event is larger than {MAX_EVENT_BYTES} bytes"
                    )));
                }
            }
        }
        Ok(events)
    }

    /// The stream ended: the event its last lines make, if they were not closed by a blank
    /// line.
    pub(crate) fn finish(&mut self) -> Result<Option<SseEvent>, ModelError> {
        let line = std::mem::take(&mut self.line);
        if let Some(event) = self.line_done(line)? {
            return Ok(Some(event));
        }
        self.line_done(Vec::new())
    }

    fn line_done(&mut self, mut line: Vec<u8>) -> Result<Option<SseEvent>, ModelError> {
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() {
            self.pending = 0;
            let event = self.event.take();
            return Ok(self.data.take().map(|data| SseEvent { event, data }));
        }
        let line = String::from_utf8(line)
            .map_err(|_| ModelError::Malformed("a streamed event is not UTF-8".into()))?;
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = line.split_once(':').unwrap_or((line.as_str(), ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {}
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    #[test]
    fn events_split_anywhere_come_out_whole() {
        let stream = b"event: message_start\r\ndata: {\"a\":1}\r\n\r\n: keep-alive\n\ndata: one\ndata: two\n\ndata: [DONE]";
        for cut in 0..stream.len() {
            let mut parser = SseParser::default();
            let mut events = parser.push(&stream[..cut]).unwrap();
            events.extend(parser.push(&stream[cut..]).unwrap());
            events.extend(parser.finish().unwrap());
            assert_eq!(
                events,
                vec![
                    ev(Some("message_start"), "{\"a\":1}"),
                    ev(None, "one\ntwo"),
                    ev(None, "[DONE]"),
                ],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn an_endless_event_is_refused() {
        let mut parser = SseParser::default();
        let line = vec![b'x'; MAX_EVENT_BYTES + 1];
        assert!(matches!(parser.push(&line), Err(ModelError::Malformed(_))));
    }
}
