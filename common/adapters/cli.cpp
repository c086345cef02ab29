#include "common/adapters/cli.hpp"

#include <CLI/CLI.hpp>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace fwchain::cli {

namespace {

// CLI11 (2.1) reads the config file of the main app only, and looks a plain key up among the
// main app's options. This formatter reads the file with CLI11's TOML reader and files every key
// under the subcommand that was invoked, after checking that the subcommand has such an option:
// the file then reads like the command line it stands for.
class CommandConfig : public CLI::ConfigTOML {
  public:
    explicit CommandConfig(CLI::App* app) : app_(app) {}

    void Allow(const std::string& command) { commands_.insert(command); }

    std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
        std::vector<CLI::ConfigItem> read = CLI::ConfigTOML::from_config(input);
        const std::string file = FileName();
        const std::vector<CLI::App*> invoked = app_->get_subcommands();
        if (invoked.empty() || commands_.count(invoked.front()->get_name()) == 0) {
            throw CLI::ConfigError("--config " + file + ": this command reads no config file");
        }
        CLI::App* cmd = invoked.front();
        std::string program = app_->get_name();  // argv[0]
        program = program.substr(program.find_last_of('/') + 1);
        const std::string where = program + " " + cmd->get_name();
        for (CLI::ConfigItem& item : read) {
            if (!item.parents.empty() || item.name == "++" || item.name == "--") {
                // CLI11 marks a [section] with "++"/"--" items under the section's name.
                const bool section = item.name == "++" || item.name == "--";
                std::string what = "key \"" + item.fullname() + "\"";
                if (section) {
                    std::string name;
                    for (const auto& p : item.parents) name += (name.empty() ? "" : ".") + p;
                    what = "section [" + name + "]";
                }
                throw CLI::ConfigError("--config " + file + ": unknown " + what +
                                       " (sections and dotted keys are not used; every key is "
                                       "an option of `" +
                                       where + "`)");
            }
            const CLI::Option* opt = cmd->get_option_no_throw("--" + item.name);
            if (opt == nullptr || !opt->get_configurable()) {
                throw CLI::ConfigError("--config " + file + ": unknown key \"" + item.name +
                                       "\": `" + where + "` has no option --" + item.name +
                                       " (see `" + where + " --help`)");
            }
            item.parents = {cmd->get_name()};
        }
        return read;
    }

  private:
    std::string FileName() const {
        const CLI::Option* opt = app_->get_config_ptr();
        if (opt == nullptr || opt->results().empty()) return "FILE";
        return opt->results().front();
    }

    CLI::App* app_;
    std::set<std::string> commands_;
};

// always_capture_default() shows every default in --help, also where there is none worth
// showing: a required option's is never used ("--hardware TEXT=[] ... REQUIRED"), and an empty
// list's reads as a value ("--peer TEXT=[]"). Those are cleared.
void TidyDefaults(CLI::App& app) {
    for (CLI::Option* opt : app.get_options()) {
        if (opt->get_required() || opt->get_default_str() == "[]") opt->default_str("");
    }
    for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) TidyDefaults(*sub);
}

}  // namespace

void AddConfigOption(CLI::App& app, CLI::App& cmd) {
    if (app.get_config_ptr() == nullptr) {
        app.set_config("--config", "", "TOML file of the command's options (see its --help)")
            ->group("");  // hidden: each command that reads a file shows its own --config
        app.config_formatter(std::make_shared<CommandConfig>(&app));
        app.allow_config_extras(CLI::config_extras_mode::error);
    }
    std::static_pointer_cast<CommandConfig>(app.get_config_formatter())->Allow(cmd.get_name());
    CLI::Option* main_config = app.get_config_ptr();
    cmd.add_option_function<std::string>(
           "--config",
           // The main app's config option is the one CLI11 reads, before it checks that every
           // required option has a value.
           [main_config](const std::string& file) { main_config->add_result(file); },
           "TOML file of these options (key = a long option name without its dashes); flags "
           "override it")
        ->type_name("FILE")
        ->configurable(false)
        ->trigger_on_parse();
}

std::optional<int> Parse(CLI::App& app, int argc, char** argv) {
    TidyDefaults(app);
    try {
        app.parse(argc, argv);
        return std::nullopt;
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::RequiredError& e) {
        // CLI11 checks required options before it looks at what was left over: `node --foo`
        // would answer "--data is required". The unknown argument is the likelier mistake.
        const std::vector<std::string> extras = app.remaining(true);
        if (!extras.empty()) {
            (void)app.exit(CLI::ExtrasError(extras));
        } else {
            (void)app.exit(e);
        }
        return 2;
    } catch (const CLI::ParseError& e) {
        (void)app.exit(e);
        return 2;
    }
}

}  // namespace fwchain::cli
