//! Flags, environment and (later) project config resolved into what a command will do. Domain
//! modules take these structs, never clap types.

use tracing_subscriber::EnvFilter;

use crate::cli::{ColorChoice, GlobalArgs};

/// How much the tool says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// `-q`: errors and machine output only.
    Quiet,
    /// The default.
    Normal,
    /// `-v`: debug logs.
    Verbose,
    /// `-vv` and more: trace logs.
    Trace,
}

/// Settings shared by every command.
#[derive(Debug, Clone)]
pub struct GlobalSettings {
    /// How much to print.
    pub verbosity: Verbosity,
    /// Whether stderr and stdout may carry colour, after `--color`, `NO_COLOR` and the terminal.
    pub color: anstream::ColorChoice,
}

impl GlobalSettings {
    /// Resolves the global flags against the environment.
    pub fn resolve(args: &GlobalArgs) -> Self {
        let verbosity = match (args.quiet, args.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, 1) => Verbosity::Verbose,
            (false, _) => Verbosity::Trace,
        };
        // anstream's `Auto` already honours NO_COLOR, CLICOLOR_FORCE and whether the stream is
        // a terminal; an explicit flag overrides all of them, as in cargo and uv.
        let color = match args.color {
            ColorChoice::Auto => anstream::ColorChoice::Auto,
            ColorChoice::Always => anstream::ColorChoice::Always,
            ColorChoice::Never => anstream::ColorChoice::Never,
        };
        Self { verbosity, color }
    }

    /// Installs the tracing subscriber: `RUST_LOG` when set, otherwise the level `-v` asks for.
    /// Logs go to stderr and never carry colour unless stderr may.
    pub fn install_logging(&self) {
        self.color.write_global();
        let default = match self.verbosity {
            Verbosity::Quiet | Verbosity::Normal => "warn",
            Verbosity::Verbose => "shipimg=debug,info",
            Verbosity::Trace => "shipimg=trace,debug",
        };
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
        let ansi = anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never;
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .with_target(true)
            .try_init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn resolve(args: &[&str]) -> GlobalSettings {
        let mut argv = vec!["shipimg"];
        argv.extend_from_slice(args);
        argv.push("doctor");
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        GlobalSettings::resolve(&cli.global)
    }

    #[test]
    fn verbosity_from_flags() {
        assert_eq!(resolve(&[]).verbosity, Verbosity::Normal);
        assert_eq!(resolve(&["-q"]).verbosity, Verbosity::Quiet);
        assert_eq!(resolve(&["-v"]).verbosity, Verbosity::Verbose);
        assert_eq!(resolve(&["-vvv"]).verbosity, Verbosity::Trace);
    }

    #[test]
    fn explicit_color_flag_wins() {
        assert_eq!(
            resolve(&["--color", "never"]).color,
            anstream::ColorChoice::Never
        );
        assert_eq!(
            resolve(&["--color", "always"]).color,
            anstream::ColorChoice::Always
        );
    }
}
