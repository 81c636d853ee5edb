//! A small command-line parser shared by the example binaries: `--name value` or
//! `--name=value` options, boolean flags, `--help`, and errors for unknown options.

use std::collections::HashMap;
use std::str::FromStr;

/// One documented option, for `--help`.
pub struct Opt {
    /// The option name without dashes, e.g. `"epochs"`.
    pub name: &'static str,
    /// Placeholder for the value (`"N"`), or empty for a flag.
    pub value: &'static str,
    /// What it does, including the default.
    pub help: &'static str,
}

/// Parsed command line. Create with [`Cli::parse`] (which already rejects unknown options)
/// and read options with the getters.
pub struct Cli {
    prog: String,
    values: HashMap<String, String>,
    flags: Vec<String>,
    known: Vec<&'static str>,
}

fn fail(prog: &str, msg: &str) -> ! {
    eprintln!("{prog}: {msg}\nTry '{prog} --help'.");
    std::process::exit(2)
}

impl Cli {
    /// Parses `std::env::args()`. Prints the help text and exits on `--help` / `-h`.
    pub fn parse(about: &str, opts: &[Opt]) -> Cli {
        Self::parse_from(std::env::args().collect(), about, opts)
    }

    /// Parses the given arguments (the first is the program name).
    pub fn parse_from(args: Vec<String>, about: &str, opts: &[Opt]) -> Cli {
        let prog = args.first().map(|p| p.rsplit('/').next().unwrap_or(p).to_string()).unwrap_or_default();
        let mut values = HashMap::new();
        let mut flags = Vec::new();
        let mut it = args.into_iter().skip(1);
        while let Some(a) = it.next() {
            if a == "--help" || a == "-h" {
                println!("{about}\n\nUsage: {prog} [OPTIONS]\n\nOptions:");
                for o in opts {
                    let left =
                        if o.value.is_empty() { format!("--{}", o.name) } else { format!("--{} {}", o.name, o.value) };
                    println!("  {left:<28} {}", o.help);
                }
                println!("  {:<28} Print this help", "-h, --help");
                std::process::exit(0);
            }
            let Some(body) = a.strip_prefix("--") else { fail(&prog, &format!("unexpected argument '{a}'")) };
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (body.to_string(), None),
            };
            let Some(spec) = opts.iter().find(|o| o.name == name) else {
                fail(&prog, &format!("unknown option '--{name}'"))
            };
            if spec.value.is_empty() {
                if inline.is_some() {
                    fail(&prog, &format!("'--{name}' takes no value"));
                }
                flags.push(name);
            } else {
                let v = match inline {
                    Some(v) => v,
                    None => {
                        it.next().unwrap_or_else(|| fail(&prog, &format!("'--{name}' needs a value ({})", spec.value)))
                    }
                };
                values.insert(name, v);
            }
        }
        Cli { prog, values, flags, known: opts.iter().map(|o| o.name).collect() }
    }

    /// The value of `--name`, parsed, or `default` when absent. Exits with a message on a
    /// value that does not parse.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> T {
        self.get_opt(name).unwrap_or(default)
    }

    /// The value of `--name`, parsed, if given.
    pub fn get_opt<T: FromStr>(&self, name: &str) -> Option<T> {
        debug_assert!(self.known.contains(&name), "option {name} is not declared");
        self.values
            .get(name)
            .map(|v| v.parse().unwrap_or_else(|_| fail(&self.prog, &format!("invalid value '{v}' for '--{name}'"))))
    }

    /// Whether the flag `--name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    /// Exits with a usage error (for values that parse but make no sense).
    pub fn error(&self, msg: &str) -> ! {
        fail(&self.prog, msg)
    }
}
