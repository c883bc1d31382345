//! What commands print: aligned tables and short sentences for people,
//! the HTTP API's JSON shapes with `--json`.

use std::io::{self, Write as _};

use serde::Serialize;

/// How to print.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// JSON instead of text.
    pub json: bool,
    /// Nothing but errors.
    pub quiet: bool,
}

impl Output {
    /// One result: a JSON document, or `human` for people.
    pub fn one<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) -> io::Result<()> {
        if self.quiet {
            return Ok(());
        }
        let mut out = io::stdout().lock();
        if self.json {
            serde_json::to_writer_pretty(&mut out, value)?;
            writeln!(out)
        } else {
            writeln!(out, "{}", human())
        }
    }

    /// A list: one JSON object per line, or an aligned table.
    pub fn list<T: Serialize>(
        &self,
        items: &[T],
        headers: &[&str],
        row: impl Fn(&T) -> Vec<String>,
    ) -> io::Result<()> {
        if self.quiet {
            return Ok(());
        }
        let mut out = io::stdout().lock();
        if self.json {
            for item in items {
                serde_json::to_writer(&mut out, item)?;
                writeln!(out)?;
            }
            return Ok(());
        }
        let rows: Vec<Vec<String>> = items.iter().map(row).collect();
        write!(out, "{}", table(headers, &rows))
    }

    /// A sentence for people; nothing in JSON mode.
    pub fn note(&self, text: &str) {
        if !self.quiet && !self.json {
            eprintln!("{text}");
        }
    }
}

/// Columns padded to their widest cell; the last one is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut text = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        for (i, cell) in cells.iter().enumerate() {
            text.push_str(cell);
            if i < last {
                let pad = widths[i] - cell.chars().count() + 2;
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        text.push('\n');
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_under_their_headers() {
        let rows = vec![
            vec![
                "1".to_owned(),
                "ada@example.com".to_owned(),
                "admin".to_owned(),
            ],
            vec![
                "22".to_owned(),
                "bo@example.com".to_owned(),
                "student".to_owned(),
            ],
        ];
        let text = table(&["ID", "EMAIL", "ROLE"], &rows);
        assert_eq!(
            text,
            "ID  EMAIL            ROLE\n\
             1   ada@example.com  admin\n\
             22  bo@example.com   student\n"
        );
    }
}
