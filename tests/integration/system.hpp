#pragma once
// A whole fwchain deployment on loopback for integration tests: a Git repo with tagged
// firmware, a vendor data dir, a mining ledger node, the vendor server and gateways, all real
// processes with free ports in a temp dir.
#include <memory>
#include <string>
#include <vector>

#include "common/core/json.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwchain::test {

class System {
  public:
    System();  // repo + vendor init; servers are started by Start()
    ~System();

    // Starts the ledger node, the vendor server and `gateways` gateways; `vendor_args` are
    // appended to `vendor-server serve`, `gateway_args` to `gateway run` (replacing a shared
    // flag's value).
    void Start(int gateways = 1, const std::vector<std::string>& vendor_args = {},
               const std::vector<std::string>& gateway_args = {});

    // Starts one more thin gateway (--ledger: the system's node) with `extra` flags (replacing a
    // shared flag's value); returns its device API URL.
    std::string StartGateway(const std::vector<std::string>& extra = {});
    // Starts one more gateway running its own ledger node (no --ledger) on `ledger_port`,
    // peered with the vendor's node; returns its device API URL.
    std::string StartNodeGateway(int ledger_port, const std::vector<std::string>& extra = {});
    // Restarts the vendor's ledger node on the same port and data, mining or not, with peers.
    void RestartLedger(bool mine, const std::vector<std::string>& peers);
    const std::string& genesis() const { return genesis_; }

    // Adds a commit changing fw.bin to `size` fresh random bytes and an annotated tag.
    void Tag(const std::string& tag, const std::string& message, std::size_t size = 65536);
    RunResult Publish(const std::string& tag, const std::string& product = "cam",
                      const std::string& hardware = "rev-b",
                      const std::vector<std::string>& extra = {});
    // Provisions a device into dir()/devices/ID and returns its state dir.
    std::string Provision(const std::string& id, const std::string& product = "cam",
                          const std::string& hardware = "rev-b");
    // Provisions many devices and waits once for all their admissions; returns their dirs.
    std::vector<std::string> ProvisionMany(const std::vector<std::string>& ids);
    RunResult Boot(const std::string& device_dir, const std::string& gateway_url,
                   const std::vector<std::string>& extra = {});
    // The device's `status --json`.
    Json Status(const std::string& device_dir);
    // The installed version and sequence from `status --json`.
    std::string Version(const std::string& device_dir);
    std::uint64_t Sequence(const std::string& device_dir);
    // Boots until the device runs `version` (or the deadline passes); returns whether it does.
    bool BootUntil(const std::string& device_dir, const std::string& gateway_url,
                   const std::string& version);

    // The gateway's GET /v1/health (fetch counters, BitTorrent figures).
    Json GatewayHealth(int i = 0);

    // Ledger search results (GET /v1/search?query) as the `results` array.
    Json Search(const std::string& query);
    bool WaitForLedger(const std::string& query, std::size_t count);

    const std::string& dir() const { return tmp_.path(); }
    std::string vendor_dir() const { return tmp_ / "vendor"; }
    std::string repo_dir() const { return tmp_ / "firmware"; }
    const std::string& ledger_url() const { return ledger_url_; }
    const std::string& vendor_url() const { return vendor_url_; }
    const std::string& gateway_url(int i = 0) const {
        return gateway_urls_.at(static_cast<std::size_t>(i));
    }
    Process& gateway(int i = 0) { return *gateways_.at(static_cast<std::size_t>(i)); }
    Process& ledger() { return *ledger_; }
    Process& vendor() { return *vendor_; }

  private:
    std::string StartServer(const std::string& name, const std::vector<std::string>& argv);
    // `gateway run` with what every test gateway shares (ledger options are added by callers).
    std::vector<std::string> GatewayArgv(const std::string& name);

    TempDir tmp_;
    std::string genesis_;
    std::string ledger_url_, vendor_url_;
    std::vector<std::string> gateway_urls_;
    std::unique_ptr<Process> ledger_, vendor_;
    std::vector<std::unique_ptr<Process>> gateways_;
};

// Runs a command through /bin/sh -c and returns its result (for git).
RunResult Shell(const std::string& command);

}  // namespace fwchain::test
