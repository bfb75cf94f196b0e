//! The live region: the lines at the bottom of the terminal that the tty renderers (the build's
//! view, the push's layers) redraw in place. Only this moves the cursor, so that:
//!
//! - a frame never wraps: each line is cut one column short of the right edge (writing the
//!   last column makes some terminals wrap), escape sequences not counted;
//! - the next frame starts where the last one did: the region remembers how wide each of its
//!   lines was, and moves up over as many rows as they take *now*;
//! - a resize takes effect at the next frame: the size is asked again each frame, and the
//!   frame on screen is counted again at the new width. That count assumes the terminal
//!   re-wraps its lines on a resize, as tmux, VTE, kitty, iTerm2 and Windows Terminal do;
//!   xterm cuts them instead, and there the next frame starts a few rows too high.
//!
//! Lines printed above the region ([`LiveRegion::print_above`]) are written once and never
//! redrawn, so they may wrap like any log line.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::redact::{RedactingWriter, Redactor};

pub(crate) const HIDE_CURSOR: &str = "\x1b[?25l";
pub(crate) const SHOW_CURSOR: &str = "\x1b[?25h";
/// Clears from the cursor to the end of the line.
pub(crate) const CLEAR_LINE: &str = "\x1b[K";
/// Clears from the cursor to the end of the screen.
pub(crate) const CLEAR_BELOW: &str = "\x1b[J";
/// Ends every colour and style, for a painted line cut short.
const RESET: &str = "\x1b[0m";
/// Minimum time between two frames: at most ten a second.
pub(crate) const FRAME_INTERVAL: Duration = Duration::from_millis(100);

/// Asks the terminal for its size, `(columns, lines)`, when a frame is drawn.
pub(crate) type SizeProbe = Box<dyn Fn() -> Option<(usize, usize)> + Send>;

/// The region at the bottom of the terminal. See the module documentation.
pub(crate) struct LiveRegion {
    out: RedactingWriter<Box<dyn Write + Send>>,
    probe: Option<SizeProbe>,
    width: usize,
    height: usize,
    /// The columns each line of the frame on screen takes.
    drawn: Vec<usize>,
    /// When the last frame was drawn.
    last_frame: Option<Instant>,
}

impl LiveRegion {
    /// A region on `out`, `width` x `height` until `probe` (if any) says otherwise.
    pub(crate) fn new(
        out: Box<dyn Write + Send>,
        redactor: Redactor,
        (width, height): (usize, usize),
        probe: Option<SizeProbe>,
    ) -> Self {
        Self {
            out: RedactingWriter::new(out, redactor),
            probe,
            width: width.max(1),
            height: height.max(1),
            drawn: Vec::new(),
            last_frame: None,
        }
    }

    /// Whether a frame may be drawn at `now` (the last was [`FRAME_INTERVAL`] ago or more).
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.last_frame
            .is_none_or(|last| now.saturating_duration_since(last) >= FRAME_INTERVAL)
    }

    /// Asks `probe` for the size from now on.
    pub(crate) fn set_probe(&mut self, probe: SizeProbe) {
        self.probe = Some(probe);
    }

    /// The terminal's size now, `(columns, lines)`; asked again on every call.
    pub(crate) fn size(&mut self) -> (usize, usize) {
        if let Some((width, height)) = self.probe.as_ref().and_then(|probe| probe()) {
            self.width = width.max(1);
            self.height = height.max(1);
        }
        (self.width, self.height)
    }

    /// The rows the frame on screen takes at the current width.
    pub(crate) fn rows_on_screen(&self) -> usize {
        self.drawn
            .iter()
            .map(|&columns| columns.div_ceil(self.width).max(1))
            .sum()
    }

    /// Moves the cursor to where the frame on screen starts.
    fn cursor_to_top(&self) -> String {
        match self.rows_on_screen() {
            0 => String::new(),
            rows => format!("\x1b[{rows}A\r"),
        }
    }

    /// Overwrites the frame on screen with `lines`, each cut to the width last asked with
    /// [`size`](Self::size), at `now`. The caller keeps the frame within the height.
    pub(crate) fn draw(&mut self, lines: &[String], now: Instant) {
        self.last_frame = Some(now);
        let mut buf = String::from(HIDE_CURSOR);
        buf.push_str(&self.cursor_to_top());
        self.drawn.clear();
        for line in lines {
            let (line, columns) = fit(line, self.width - 1);
            buf.push_str(&line);
            buf.push_str(CLEAR_LINE);
            buf.push('\n');
            self.drawn.push(columns);
        }
        buf.push_str(CLEAR_BELOW);
        buf.push_str(SHOW_CURSOR);
        let _ = self.out.write_all(buf.as_bytes());
        let _ = self.out.flush();
    }

    /// Clears the frame and prints `text` where it was, for good; the caller draws the next
    /// frame below it.
    pub(crate) fn print_above(&mut self, text: &str) {
        self.size();
        let mut buf = self.cursor_to_top();
        buf.push_str(CLEAR_BELOW);
        buf.push_str(text);
        buf.push('\n');
        let _ = self.out.write_all(buf.as_bytes());
        let _ = self.out.flush();
        self.drawn.clear();
    }

    /// Leaves the frame on screen for good (a final frame): the next one is drawn below it.
    pub(crate) fn forget(&mut self) {
        self.drawn.clear();
    }
}

/// `text` cut to `width` visible columns, and the columns it takes. Escape sequences take no
/// column and are kept; a painted line that is cut gets its style reset.
pub(crate) fn fit(text: &str, width: usize) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut columns = 0;
    let mut styled = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            // CSI: parameters, then a final byte in @..~
            out.push(c);
            out.push(chars.next().unwrap_or('['));
            for c in chars.by_ref() {
                out.push(c);
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
            styled = true;
            continue;
        }
        if columns == width {
            if styled {
                out.push_str(RESET);
            }
            return (out, columns);
        }
        out.push(c);
        columns += 1;
    }
    (out, columns)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::super::testing::{Captured, Screen};
    use super::*;

    fn region(width: usize, probe: Option<SizeProbe>) -> (LiveRegion, Captured) {
        let out = Captured::default();
        let region = LiveRegion::new(out.sink(), Redactor::none(), (width, 24), probe);
        (region, out)
    }

    #[test]
    fn lines_are_cut_one_column_short_of_the_edge() {
        assert_eq!(fit("abcdef", 4), ("abcd".to_owned(), 4));
        assert_eq!(fit("abc", 4), ("abc".to_owned(), 3));
        // Escapes take no column; a painted line cut short is reset.
        let painted = "\x1b[34mabcdef\x1b[0m";
        assert_eq!(fit(painted, 3), ("\x1b[34mabc\x1b[0m".to_owned(), 3));
        assert_eq!(fit(painted, 6), (painted.to_owned(), 6));

        let (mut region, out) = region(10, None);
        region.draw(
            &["0123456789abcdef".to_owned(), "short".to_owned()],
            Instant::now(),
        );
        let screen = Screen::new(10, 24).feed(&out.text());
        assert_eq!(screen.lines(), ["012345678", "short", ""]);
    }

    #[test]
    fn each_frame_moves_up_over_the_last() {
        let (mut region, out) = region(80, None);
        region.draw(
            &["one".into(), "two".into(), "three".into()],
            Instant::now(),
        );
        region.draw(&["one".into(), "two".into()], Instant::now());
        assert!(out.text().contains("\x1b[3A\r"), "{:?}", out.text());
        let screen = Screen::new(80, 24).feed(&out.text());
        assert_eq!(screen.lines(), ["one", "two", ""]);
        // A final frame stays; the next region starts below it.
        region.forget();
        region.draw(&["next".into()], Instant::now());
        let screen = Screen::new(80, 24).feed(&out.text());
        assert_eq!(screen.lines(), ["one", "two", "next", ""]);
    }

    #[test]
    fn a_resize_counts_the_frame_again_at_the_new_width() {
        let size = Arc::new(Mutex::new((80, 24)));
        let probe_size = Arc::clone(&size);
        let probe: SizeProbe = Box::new(move || Some(*probe_size.lock().unwrap()));
        let (mut region, out) = region(80, Some(probe));
        region.size();
        region.draw(
            &["x".repeat(100), "y".repeat(31), String::new()],
            Instant::now(),
        );
        assert_eq!(region.rows_on_screen(), 3);
        // Narrower: the 79-column line now takes three rows of 30, the 31-column one two.
        *size.lock().unwrap() = (30, 24);
        assert_eq!(region.size(), (30, 24));
        assert_eq!(region.rows_on_screen(), 3 + 2 + 1);
        region.draw(&["z".repeat(100)], Instant::now());
        assert!(out.text().ends_with(&format!(
            "\x1b[6A\r{}{CLEAR_LINE}\n{CLEAR_BELOW}{SHOW_CURSOR}",
            "z".repeat(29)
        )));
        // Wider again: every line fits on one row.
        *size.lock().unwrap() = (120, 24);
        region.size();
        assert_eq!(region.rows_on_screen(), 1);
    }

    #[test]
    fn print_above_leaves_the_line_and_clears_the_frame() {
        let (mut region, out) = region(40, None);
        region.draw(&["frame 1".into(), "frame 2".into()], Instant::now());
        region.print_above("a line for good, longer than the terminal is wide, wrapped");
        region.draw(&["frame 3".into()], Instant::now());
        let screen = Screen::new(40, 24).feed(&out.text());
        assert_eq!(
            screen.lines(),
            [
                "a line for good, longer than the termina",
                "l is wide, wrapped",
                "frame 3",
                ""
            ]
        );
    }
}
