#pragma once
// Command-line plumbing shared by the four programs: `--config FILE` on the long-running
// commands, and a parse that names an unknown argument before it complains about a missing one.
// CLI11 stays out of this header.
#include <optional>

namespace CLI {
class App;
}

namespace fwchain::cli {

// Gives `cmd`, a subcommand of `app`, a `--config FILE` option. The file is TOML, read by
// CLI11's own config support (set_config + ConfigTOML); its keys are cmd's long option names
// without the dashes (`data = "/var/lib/fwchain/ledger"`, `mine = true`,
// `peer = ["http://a:7400", "http://b:7400"]`). Flags given on the command line override the
// file. A key that is not one of cmd's options, or a [section], is a usage error naming it.
// Call it after cmd's options are added.
void AddConfigOption(CLI::App& app, CLI::App& cmd);

// Parses argv (after clearing the defaults --help would show for required options and empty
// lists). Returns the exit code to end with at once (0 after --help, 2 after a usage error,
// which it prints), or nullopt when the command should run. An argument that no option takes is
// named, even when a required option is missing too.
std::optional<int> Parse(CLI::App& app, int argc, char** argv);

}  // namespace fwchain::cli
