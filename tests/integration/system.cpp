#include "tests/integration/system.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <regex>

#include "common/adapters/http.hpp"

namespace fwchain::test {

RunResult Shell(const std::string& command) { return Run({"/bin/sh", "-c", command}); }

namespace {
std::string Q(const std::string& s) { return "'" + s + "'"; }

// Appends `extra` to argv; a "--flag value" pair in `extra` replaces the same flag's pair in argv.
void AppendOverriding(std::vector<std::string>& argv, const std::vector<std::string>& extra) {
    for (std::size_t i = 0; i + 1 < extra.size(); ++i) {
        if (extra[i].rfind("--", 0) != 0 || extra[i + 1].rfind("--", 0) == 0) continue;
        auto it = std::find(argv.begin(), argv.end(), extra[i]);
        if (it != argv.end() && it + 1 != argv.end()) argv.erase(it, it + 2);
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
}
}  // namespace

System::System() {
    const std::string repo = repo_dir();
    auto r = Shell("git init -q " + Q(repo) + " && git -C " + Q(repo) +
                   " config user.name 'Release CI' && git -C " + Q(repo) +
                   " config user.email ci@acme.example");
    if (r.exit_code != 0) throw std::runtime_error("git init failed: " + r.err);
    auto init =
        Run({Bin("vendor-server"), "init", "--data", vendor_dir(), "--vendor", "acme", "--json"});
    if (init.exit_code != 0) throw std::runtime_error("vendor-server init failed: " + init.err);
    auto j = ParseJson(init.out);
    if (!j || !j->contains("genesis_hash")) {
        throw std::runtime_error("vendor-server init --json printed no genesis_hash: " + init.out);
    }
    genesis_ = (*j)["genesis_hash"].get<std::string>();
}

System::~System() {
    for (auto& g : gateways_) g->Stop();
    if (vendor_) vendor_->Stop();
    if (ledger_) ledger_->Stop();
}

std::string System::StartServer(const std::string& name, const std::vector<std::string>& argv) {
    const std::string log = tmp_ / (name + ".log");
    auto proc = std::make_unique<Process>(argv, log);
    std::string url;
    std::regex listening("listening on ([0-9.]+:[0-9]+)");
    bool ok = WaitFor([&] {
        std::smatch m;
        std::string text = proc->Log();
        if (std::regex_search(text, m, listening)) {
            url = "http://" + m[1].str();
            return true;
        }
        return !proc->Running();
    });
    if (!ok || url.empty()) throw std::runtime_error(name + " did not start:\n" + proc->Log());
    if (name == "ledger")
        ledger_ = std::move(proc);
    else if (name == "vendor")
        vendor_ = std::move(proc);
    else
        gateways_.push_back(std::move(proc));
    return url;
}

void System::Start(int gateways, const std::vector<std::string>& vendor_args,
                   const std::vector<std::string>& gateway_args) {
    ledger_url_ = StartServer(
        "ledger", {Bin("ledger"), "node", "--data", tmp_ / "ledger", "--listen", "127.0.0.1:0",
                   "--genesis", genesis_, "--genesis-file", vendor_dir() + "/genesis.json",
                   "--mine", "--key", vendor_dir() + "/keys/node.key"});
    std::vector<std::string> vendor = {
        Bin("vendor-server"), "serve",    "--data",    vendor_dir(),  "--listen",
        "127.0.0.1:0",        "--ledger", ledger_url_, "--bt-listen", "127.0.0.1:0"};
    vendor.insert(vendor.end(), vendor_args.begin(), vendor_args.end());
    vendor_url_ = StartServer("vendor", vendor);
    for (int i = 0; i < gateways; ++i) {
        const std::string name = "gateway" + std::to_string(i);
        std::vector<std::string> argv = GatewayArgv(name);
        argv.insert(argv.end(), {"--ledger", ledger_url_});
        AppendOverriding(argv, gateway_args);
        gateway_urls_.push_back(StartServer(name, argv));
    }
}

std::vector<std::string> System::GatewayArgv(const std::string& name) {
    return {Bin("gateway"),
            "run",
            "--data",
            tmp_ / name,
            "--vendor",
            vendor_url_,
            "--listen",
            "127.0.0.1:0",
            "--root",
            vendor_dir() + "/metadata/root/1.json",
            "--poll-interval",
            "1",
            "--bt-listen",
            "127.0.0.1:0",
            "--bt-stall-timeout",
            "20"};
}

std::string System::StartGateway(const std::vector<std::string>& extra) {
    const std::string name = "gateway" + std::to_string(gateway_urls_.size());
    std::vector<std::string> argv = GatewayArgv(name);
    argv.insert(argv.end(), {"--ledger", ledger_url_});
    AppendOverriding(argv, extra);
    gateway_urls_.push_back(StartServer(name, argv));
    return gateway_urls_.back();
}

std::string System::StartNodeGateway(int ledger_port, const std::vector<std::string>& extra) {
    const std::string name = "gateway" + std::to_string(gateway_urls_.size());
    std::vector<std::string> argv = GatewayArgv(name);
    argv.insert(argv.end(),
                {"--genesis", genesis_, "--genesis-file", vendor_dir() + "/genesis.json",
                 "--ledger-listen", "127.0.0.1:" + std::to_string(ledger_port)});
    argv.insert(argv.end(), extra.begin(), extra.end());
    gateway_urls_.push_back(StartServer(name, argv));
    return gateway_urls_.back();
}

void System::RestartLedger(bool mine, const std::vector<std::string>& peers) {
    const std::string port = ledger_url_.substr(ledger_url_.rfind(':') + 1);
    ledger_->Stop();
    ledger_.reset();
    std::vector<std::string> argv = {Bin("ledger"),
                                     "node",
                                     "--data",
                                     tmp_ / "ledger",
                                     "--listen",
                                     "127.0.0.1:" + port,
                                     "--genesis",
                                     genesis_,
                                     "--genesis-file",
                                     vendor_dir() + "/genesis.json",
                                     "--sync-interval-ms",
                                     "500"};
    if (mine) argv.insert(argv.end(), {"--mine", "--key", vendor_dir() + "/keys/node.key"});
    for (const auto& p : peers) argv.insert(argv.end(), {"--peer", p});
    ledger_url_ = StartServer("ledger", argv);
}

void System::Tag(const std::string& tag, const std::string& message, std::size_t size) {
    const std::string repo = repo_dir();
    auto r = Shell("head -c " + std::to_string(size) + " /dev/urandom > " + Q(repo + "/fw.bin") +
                   " && git -C " + Q(repo) + " add fw.bin && git -C " + Q(repo) + " commit -qm " +
                   Q("firmware " + tag) + " && git -C " + Q(repo) + " tag -a " + Q(tag) + " -m " +
                   Q(message));
    if (r.exit_code != 0) throw std::runtime_error("git tag failed: " + r.err);
}

RunResult System::Publish(const std::string& tag, const std::string& product,
                          const std::string& hardware, const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {
        Bin("vendor-server"), "publish", "--data",     vendor_dir(), "--repo",
        repo_dir(),           "--tag",   tag,          "--image",    "tree:fw.bin",
        "--product",          product,   "--hardware", hardware,     "--ledger",
        ledger_url_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Run(argv);
}

std::vector<std::string> System::ProvisionMany(const std::vector<std::string>& ids) {
    std::vector<std::string> dirs;
    for (const auto& id : ids) {
        const std::string out = tmp_ / ("devices/" + id);
        auto r =
            Run({Bin("vendor-server"), "provision", "--data", vendor_dir(), "--device-id", id,
                 "--product", "cam", "--hardware", "rev-b", "--out", out, "--ledger", ledger_url_});
        if (r.exit_code != 0) throw std::runtime_error("provision failed: " + r.err);
        dirs.push_back(out);
    }
    auto client = http::Client::For(ledger_url_);
    const bool admitted = WaitFor(
        [&] {
            auto reg = client->GetJson("/v1/registry?role=device", 64 << 20);
            if (!reg) return false;
            std::size_t n = 0;
            for (const auto& k : (*reg)["keys"]) {
                n += std::find(ids.begin(), ids.end(), k.value("subject", "")) != ids.end();
            }
            return n == ids.size();
        },
        std::chrono::seconds(120));
    if (!admitted) throw std::runtime_error("not every device was admitted on the ledger");
    return dirs;
}

std::string System::Provision(const std::string& id, const std::string& product,
                              const std::string& hardware) {
    const std::string out = tmp_ / ("devices/" + id);
    auto r =
        Run({Bin("vendor-server"), "provision", "--data", vendor_dir(), "--device-id", id,
             "--product", product, "--hardware", hardware, "--out", out, "--ledger", ledger_url_});
    if (r.exit_code != 0) throw std::runtime_error("provision failed: " + r.err);
    // Reports are accepted only from devices the ledger has admitted: wait for the admit block.
    auto client = http::Client::For(ledger_url_);
    bool admitted = WaitFor([&] {
        auto reg = client->GetJson("/v1/registry?role=device");
        if (!reg) return false;
        for (const auto& k : (*reg)["keys"]) {
            if (k.value("subject", "") == id) return true;
        }
        return false;
    });
    if (!admitted) throw std::runtime_error("device " + id + " was never admitted on the ledger");
    return out;
}

RunResult System::Boot(const std::string& device_dir, const std::string& gateway_url,
                       const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {Bin("device-agent"), "boot",      "--state",
                                     device_dir,          "--gateway", gateway_url};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Run(argv);
}

Json System::Status(const std::string& device_dir) {
    auto r = Run({Bin("device-agent"), "status", "--state", device_dir, "--json"});
    auto j = ParseJson(r.out);
    return j ? *j : Json();
}

std::string System::Version(const std::string& device_dir) {
    Json st = Status(device_dir);
    return st.contains("installed") ? st["installed"].value("version", "") : "";
}

std::uint64_t System::Sequence(const std::string& device_dir) {
    Json st = Status(device_dir);
    return st.contains("installed") ? st["installed"].value("sequence", 0u) : 0u;
}

bool System::BootUntil(const std::string& device_dir, const std::string& gateway_url,
                       const std::string& version) {
    return WaitFor(
        [&] {
            if (Version(device_dir) == version) return true;
            auto r = Boot(device_dir, gateway_url);
            if (r.exit_code != 0 && r.exit_code != 10) {
                ADD_FAILURE() << "device-agent boot exited " << r.exit_code << ": " << r.err;
            }
            return Version(device_dir) == version;
        },
        std::chrono::seconds(120));
}

Json System::GatewayHealth(int i) {
    auto client = http::Client::For(gateway_url(i));
    auto j = client ? client->GetJson("/v1/health") : Expected<Json>(client.error());
    return j ? *j : Json::object();
}

Json System::Search(const std::string& query) {
    auto client = http::Client::For(ledger_url_);
    if (!client) return Json::array();
    auto j = client->GetJson("/v1/search?" + query);
    if (!j || !j->contains("results")) return Json::array();
    return (*j)["results"];
}

bool System::WaitForLedger(const std::string& query, std::size_t count) {
    return WaitFor([&] { return Search(query).size() >= count; }, std::chrono::seconds(90));
}

}  // namespace fwchain::test
