//! The fast path of the JSON decoder, for the records most streams carry: a flat object whose
//! values are numbers (and strings, `true`, `false`, `null` in fields no operator reads). It
//! scans the bytes once and parses numbers with lexical-core (correctly rounded, as serde_json
//! with `float_roundtrip`), writing the same column slots as the serde_json path. Anything
//! else (nested values, escapes in strings, a number a column wants as something else, any
//! doubt about the syntax) gives up, and the caller parses the record with serde_json, which
//! also writes every error message: a record decodes to the same values, or fails with the
//! same error, whichever path read it.

use eddy_sdk::ColumnType;

use super::slots::{ColState, Slot};

/// What the fast path made of a value.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Fast {
    /// Parsed: the slots hold the row.
    Done,
    /// Not for the fast path: parse it with serde_json.
    GiveUp,
}

/// Which column a key names.
pub(super) trait KeyIndex {
    /// The column a key at position `pos` of the object fills, if any.
    fn lookup(&mut self, pos: usize, key: &[u8]) -> Option<usize>;
    /// The column a key at `pos` named last time, with that key as JSON followed by a colon
    /// (`"f0":`): when the bytes there are exactly those, the key is that column's, and is
    /// not scanned.
    fn expect(&self, pos: usize) -> Option<(usize, &[u8])>;
}

/// Reads `value` into `cols` (which the caller has reset), the columns named by `keys`.
pub(super) fn parse(value: &[u8], types: &[ColumnType], cols: &mut [ColState], keys: &mut impl KeyIndex) -> Fast {
    let mut s = Scanner { b: value, i: 0 };
    s.ws();
    if !s.eat(b'{') {
        return Fast::GiveUp;
    }
    s.ws();
    if s.eat(b'}') {
        return s.end();
    }
    let mut pos = 0;
    loop {
        s.ws();
        let column = match keys.expect(pos).filter(|(_, key)| s.at(key)).map(|(c, key)| (c, key.len())) {
            Some((c, n)) => {
                s.i += n;
                Some(c)
            }
            None => {
                let Some(key) = s.string() else { return Fast::GiveUp };
                s.ws();
                if !s.eat(b':') {
                    return Fast::GiveUp;
                }
                keys.lookup(pos, key)
            }
        };
        s.ws();
        match column {
            Some(c) => {
                let st = &mut cols[c];
                match types[c] {
                    ColumnType::Float64 => {
                        let Some(x) = s.float() else { return Fast::GiveUp };
                        st.num = x;
                        if !matches!(st.slot, Slot::Fast) {
                            st.slot = Slot::Fast;
                        }
                    }
                    ty => {
                        let Some(slot) = s.number_for(ty) else { return Fast::GiveUp };
                        st.slot = slot;
                    }
                }
            }
            None => {
                if !s.skip_scalar() {
                    return Fast::GiveUp;
                }
            }
        }
        pos += 1;
        s.ws();
        if s.eat(b',') {
            continue;
        }
        if s.eat(b'}') {
            return s.end();
        }
        return Fast::GiveUp;
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Whether the bytes at the cursor are `word` (compared in place: a call to `memcmp`
    /// costs more than the comparison for the few bytes of a key).
    #[inline]
    fn at(&self, word: &[u8]) -> bool {
        self.b.get(self.i..self.i + word.len()).is_some_and(|b| b.iter().zip(word).all(|(x, y)| x == y))
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.i += 1;
        }
    }

    fn end(&mut self) -> Fast {
        self.ws();
        if self.i == self.b.len() { Fast::Done } else { Fast::GiveUp }
    }

    /// A string without escapes or control characters, as its bytes between the quotes.
    fn string(&mut self) -> Option<&'a [u8]> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.i;
        let mut j = start;
        let mut ascii = true;
        loop {
            match *self.b.get(j)? {
                b'"' => break,
                b'\\' | 0..=0x1f => return None,
                c => ascii &= c < 0x80,
            }
            j += 1;
        }
        let s = &self.b[start..j];
        // Keys and skipped strings must be UTF-8, as serde_json requires of a valid document.
        if !ascii && std::str::from_utf8(s).is_err() {
            return None;
        }
        self.i = j + 1;
        Some(s)
    }

    /// The bytes of a JSON number (the grammar exactly: `-? (0 | [1-9][0-9]*) (. [0-9]+)?
    /// ([eE] [+-]? [0-9]+)?`), and whether it is an integer.
    fn number(&mut self) -> Option<(&'a [u8], bool)> {
        let start = self.i;
        self.eat(b'-');
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let mut integer = true;
        if self.eat(b'.') {
            integer = false;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return None;
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.i += 1;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return None;
            }
            self.digits();
        }
        Some((&self.b[start..self.i], integer))
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
    }

    /// A number for a Float64 column (`None` when the value is not a finite number). Most
    /// numbers have at most 19 significant digits and a small exponent: their value is then
    /// an exact integer times or divided by an exact power of ten, one correctly rounded
    /// operation (Clinger's fast path, which lexical-core also takes first), computed while
    /// the digits are scanned. Any other number goes to lexical-core whole.
    fn float(&mut self) -> Option<f64> {
        const POW10: [f64; 23] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
        ];
        let start = self.i;
        let b = self.b;
        let mut i = self.i;
        let negative = b.get(i) == Some(&b'-');
        if negative {
            i += 1;
        }
        let mut mantissa: u64 = 0;
        let mut digits = 0u32;
        let mut frac = 0i32;
        let mut simple = true;
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while let Some(&c @ b'0'..=b'9') = b.get(i) {
                    mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                    digits += 1;
                    i += 1;
                }
            }
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            let from = i;
            while let Some(&c @ b'0'..=b'9') = b.get(i) {
                if mantissa != 0 || c != b'0' {
                    digits += 1;
                }
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                frac += 1;
                i += 1;
            }
            if i == from {
                return None;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            // Exponents: rare in streams; lexical-core reads them.
            simple = false;
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let from = i;
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
            if i == from {
                return None;
            }
        }
        self.i = i;
        if simple && digits <= 19 && mantissa < (1 << 53) && frac <= 22 {
            // Always finite: nothing to check (and no wait for the division's result).
            let m = mantissa as f64 / POW10[frac as usize];
            return Some(if negative { -m } else { m });
        }
        let x = lexical_core::parse::<f64>(&b[start..i]).ok()?;
        x.is_finite().then_some(x)
    }

    /// A number into the slot serde_json's path would give a column of type `ty` (not
    /// Float64); `None` when the value is not a number or the column would read it another
    /// way.
    fn number_for(&mut self, ty: ColumnType) -> Option<Slot> {
        let (text, integer) = self.number()?;
        match ty {
            // An integer that fits (and not `-0`, which serde_json reads as a float).
            ColumnType::Int64 if integer && text != b"-0" => lexical_core::parse::<i64>(text).ok().map(Slot::Int),
            _ => None,
        }
    }

    /// Skips a value no column reads: a number, a simple string, `true`, `false` or `null`.
    fn skip_scalar(&mut self) -> bool {
        match self.peek() {
            Some(b'"') => self.string().is_some(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number().is_some(),
            _ => false,
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            true
        } else {
            false
        }
    }
}
