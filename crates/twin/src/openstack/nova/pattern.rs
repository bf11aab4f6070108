//! Nova's `name` and `ip` filters are regular expressions matched anywhere in the value (the
//! database's `REGEXP`; MySQL's is case-insensitive under Nova's collation, and so is this).
//! A small backtracking matcher for the syntax names use: literals, `.`, `^`, `$`, classes
//! (`[a-z]`, `[^0-9]`, `\d`, `\w`, `\s`), groups with `|`, and the quantifiers `*`, `+`, `?`,
//! `{m,n}` (greedy or lazy). A pattern it cannot parse matches as a plain substring.

#[derive(Debug)]
enum Node {
    Literal(char),
    Any,
    Class(Class),
    Start,
    End,
    Group(Vec<Vec<Node>>),
    Repeat {
        node: Box<Node>,
        min: usize,
        max: Option<usize>,
        greedy: bool,
    },
}

#[derive(Debug)]
struct Class {
    items: Vec<Item>,
    negated: bool,
}

#[derive(Debug)]
enum Item {
    Range(char, char),
    Digit(bool),
    Word(bool),
    Space(bool),
}

impl Item {
    fn matches(&self, c: char) -> bool {
        match *self {
            Item::Range(low, high) => low <= c && c <= high,
            Item::Digit(negated) => c.is_ascii_digit() != negated,
            Item::Word(negated) => (c.is_alphanumeric() || c == '_') != negated,
            Item::Space(negated) => c.is_whitespace() != negated,
        }
    }
}

impl Class {
    fn matches(&self, c: char) -> bool {
        let variants = [c, lower(c), c.to_uppercase().next().unwrap_or(c)];
        let found = self
            .items
            .iter()
            .any(|item| variants.iter().any(|v| item.matches(*v)));
        found != self.negated
    }
}

fn lower(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

pub struct Pattern {
    parsed: Option<Vec<Vec<Node>>>,
    literal: Vec<char>,
}

impl Pattern {
    pub fn new(text: &str) -> Pattern {
        let chars: Vec<char> = text.chars().collect();
        let mut parser = Parser {
            chars: &chars,
            pos: 0,
        };
        let parsed = parser
            .alternation()
            .ok()
            .filter(|_| parser.pos == chars.len());
        Pattern {
            parsed,
            literal: chars.iter().map(|c| lower(*c)).collect(),
        }
    }

    /// Whether the pattern matches somewhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        match &self.parsed {
            Some(alternatives) => (0..=text.len()).any(|start| {
                alternatives
                    .iter()
                    .any(|sequence| match_sequence(sequence, &text, start, &|_| true))
            }),
            None => {
                let folded: Vec<char> = text.iter().map(|c| lower(*c)).collect();
                self.literal.is_empty()
                    || folded
                        .windows(self.literal.len())
                        .any(|window| window == self.literal.as_slice())
            }
        }
    }
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Result<char, ()> {
        let c = self.peek().ok_or(())?;
        self.pos += 1;
        Ok(c)
    }

    fn alternation(&mut self) -> Result<Vec<Vec<Node>>, ()> {
        let mut alternatives = vec![self.sequence()?];
        while self.peek() == Some('|') {
            self.pos += 1;
            alternatives.push(self.sequence()?);
        }
        Ok(alternatives)
    }

    fn sequence(&mut self) -> Result<Vec<Node>, ()> {
        let mut sequence = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            sequence.push(self.quantified(atom)?);
        }
        Ok(sequence)
    }

    fn atom(&mut self) -> Result<Node, ()> {
        Ok(match self.next()? {
            '.' => Node::Any,
            '^' => Node::Start,
            '$' => Node::End,
            '(' => {
                if self.peek() == Some('?') {
                    if self.chars.get(self.pos + 1) != Some(&':') {
                        return Err(());
                    }
                    self.pos += 2;
                }
                let alternatives = self.alternation()?;
                if self.next()? != ')' {
                    return Err(());
                }
                Node::Group(alternatives)
            }
            '[' => Node::Class(self.class()?),
            '\\' => match self.escape()? {
                Escaped::Char(c) => Node::Literal(c),
                Escaped::Item(item) => Node::Class(Class {
                    items: vec![item],
                    negated: false,
                }),
            },
            '*' | '+' | '?' => return Err(()),
            '{' if self.braces_ahead(self.pos - 1).is_some() => return Err(()),
            c => Node::Literal(c),
        })
    }

    fn escape(&mut self) -> Result<Escaped, ()> {
        Ok(match self.next()? {
            'd' => Escaped::Item(Item::Digit(false)),
            'D' => Escaped::Item(Item::Digit(true)),
            'w' => Escaped::Item(Item::Word(false)),
            'W' => Escaped::Item(Item::Word(true)),
            's' => Escaped::Item(Item::Space(false)),
            'S' => Escaped::Item(Item::Space(true)),
            'n' => Escaped::Char('\n'),
            't' => Escaped::Char('\t'),
            c if c.is_ascii_alphanumeric() => return Err(()),
            c => Escaped::Char(c),
        })
    }

    fn class(&mut self) -> Result<Class, ()> {
        let negated = self.peek() == Some('^');
        if negated {
            self.pos += 1;
        }
        let mut items = Vec::new();
        let mut first = true;
        loop {
            let c = self.next()?;
            if c == ']' && !first {
                break;
            }
            first = false;
            let low = if c == '\\' {
                match self.escape()? {
                    Escaped::Item(item) => {
                        items.push(item);
                        continue;
                    }
                    Escaped::Char(c) => c,
                }
            } else {
                c
            };
            if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|c| *c != ']') {
                self.pos += 1;
                let high = match self.next()? {
                    '\\' => match self.escape()? {
                        Escaped::Char(c) => c,
                        Escaped::Item(_) => return Err(()),
                    },
                    c => c,
                };
                if high < low {
                    return Err(());
                }
                items.push(Item::Range(low, high));
            } else {
                items.push(Item::Range(low, low));
            }
        }
        Ok(Class { items, negated })
    }

    /// `{m}`, `{m,}`, `{m,n}`, `{,n}` starting at `at`: the bounds and the position after.
    fn braces_ahead(&self, at: usize) -> Option<(usize, Option<usize>, usize)> {
        if self.chars.get(at) != Some(&'{') {
            return None;
        }
        let close = at + self.chars[at..].iter().position(|c| *c == '}')?;
        let inner: String = self.chars[at + 1..close].iter().collect();
        let number = |text: &str| -> Option<Option<usize>> {
            if text.is_empty() {
                Some(None)
            } else if text.bytes().all(|b| b.is_ascii_digit()) {
                text.parse().ok().map(Some)
            } else {
                None
            }
        };
        let (min, max) = match inner.split_once(',') {
            Some((min, max)) => (number(min)?, number(max)?),
            None => {
                let exact = number(&inner)??;
                (Some(exact), Some(exact))
            }
        };
        let min = min.unwrap_or(0);
        if max.is_some_and(|max| max < min) {
            return None;
        }
        Some((min, max, close + 1))
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, ()> {
        let (min, max) = match self.peek() {
            Some('*') => {
                self.pos += 1;
                (0, None)
            }
            Some('+') => {
                self.pos += 1;
                (1, None)
            }
            Some('?') => {
                self.pos += 1;
                (0, Some(1))
            }
            Some('{') => match self.braces_ahead(self.pos) {
                Some((min, max, after)) => {
                    self.pos = after;
                    (min, max)
                }
                None => return Ok(atom),
            },
            _ => return Ok(atom),
        };
        let greedy = if self.peek() == Some('?') {
            self.pos += 1;
            false
        } else {
            true
        };
        if matches!(self.peek(), Some('*' | '+' | '?')) || self.braces_ahead(self.pos).is_some() {
            return Err(()); // "multiple repeat"
        }
        Ok(Node::Repeat {
            node: Box::new(atom),
            min,
            max,
            greedy,
        })
    }
}

enum Escaped {
    Char(char),
    Item(Item),
}

fn match_sequence(
    sequence: &[Node],
    text: &[char],
    pos: usize,
    then: &dyn Fn(usize) -> bool,
) -> bool {
    match sequence.split_first() {
        None => then(pos),
        Some((node, rest)) => match_node(node, text, pos, &|next| {
            match_sequence(rest, text, next, then)
        }),
    }
}

fn match_node(node: &Node, text: &[char], pos: usize, then: &dyn Fn(usize) -> bool) -> bool {
    match node {
        Node::Literal(c) => pos < text.len() && lower(text[pos]) == lower(*c) && then(pos + 1),
        Node::Any => pos < text.len() && text[pos] != '\n' && then(pos + 1),
        Node::Class(class) => pos < text.len() && class.matches(text[pos]) && then(pos + 1),
        Node::Start => pos == 0 && then(pos),
        Node::End => pos == text.len() && then(pos),
        Node::Group(alternatives) => alternatives
            .iter()
            .any(|sequence| match_sequence(sequence, text, pos, then)),
        Node::Repeat {
            node,
            min,
            max,
            greedy,
        } => repeat(node, *min, *max, *greedy, 0, text, pos, then),
    }
}

#[allow(clippy::too_many_arguments)]
fn repeat(
    node: &Node,
    min: usize,
    max: Option<usize>,
    greedy: bool,
    count: usize,
    text: &[char],
    pos: usize,
    then: &dyn Fn(usize) -> bool,
) -> bool {
    let more = || {
        max.is_none_or(|max| count < max)
            && match_node(node, text, pos, &|next| {
                // An empty iteration only counts towards the minimum (no endless loops).
                (next != pos || count < min)
                    && repeat(node, min, max, greedy, count + 1, text, next, then)
            })
    };

    if count < min {
        return more();
    }
    // Greedy: as many as possible first; lazy: as few.
    let (first, second): (&dyn Fn() -> bool, &dyn Fn() -> bool) = if greedy {
        (&more, &|| then(pos))
    } else {
        (&|| then(pos), &more)
    };

    first() || second()
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn matches(pattern: &str, text: &str) -> bool {
        Pattern::new(pattern).is_match(text)
    }

    #[test]
    fn search_semantics_like_nova() {
        assert!(matches("web", "web-1"));
        assert!(matches("web", "my-web-2"));
        assert!(matches("WEB", "web-1"), "case-insensitive like MySQL");
        assert!(!matches("^web", "my-web-2"));
        assert!(matches("^web-[0-9]+$", "web-12"));
        assert!(!matches("^web-[0-9]+$", "web-12a"));
        assert!(matches("^(db|web)-\\d$", "db-1"));
        assert!(!matches("^(db|web)-\\d$", "app-1"));
        assert!(matches("a.c", "abc"));
        assert!(matches("^vm-0{2,}1", "vm-00001"));
        assert!(!matches("^vm-0{5}1", "vm-00001"));
        assert!(matches("x*", "anything"));
        assert!(matches("^(a*)*$", "aaaa"));
        assert!(matches("[^a-c]", "abcd"));
        assert!(!matches("^[^a-c]+$", "abc"));
        assert!(matches("10\\.10\\.1\\.", "10.10.1.11"));
        assert!(!matches("10\\.10\\.1\\.", "10.10.11.1"));
        assert!(matches("^a+?b$", "aaab"));
    }

    #[test]
    fn unparsable_patterns_match_as_text() {
        assert!(matches("web(", "a web( b"));
        assert!(!matches("web(", "web-1"));
        assert!(matches("*", "a*b"));
        assert!(matches("", "anything"));
    }
}
