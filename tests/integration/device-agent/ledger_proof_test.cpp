// require_ledger_proof against the real stack: the gateway attaches the release tx, its Merkle
// path and the headers from the device's checkpoint; the device verifies them, installs, and
// advances its checkpoint, from which the next release is proven.
#include <gtest/gtest.h>

#include "common/core/fs.hpp"
#include "tests/integration/system.hpp"

namespace fwchain::test {
namespace {

TEST(LedgerProof, ADeviceRequiringProofsUpdatesTwiceAndAdvancesItsCheckpoint) {
    System sys;
    sys.Tag("v1.0.0", "First release");
    sys.Tag("v1.1.0", "Second release");
    sys.Start(/*gateways=*/1);
    const std::string dir = sys.Provision("cam-proof");

    // The integrator's part of provisioning: the genesis as checkpoint, its difficulty as the
    // minimum (the demo chain never retargets below it in this short run).
    auto config = LoadJsonFile(sys.vendor_dir() + "/config.json", 1 << 16);
    auto genesis = LoadJsonFile(sys.vendor_dir() + "/genesis.json", 1 << 22);
    ASSERT_TRUE(config && genesis);
    const auto bits = (*genesis)["txs"][0]["body"]["params"]["initial_bits"].get<std::uint32_t>();
    auto device = LoadJsonFile(dir + "/device.json", 1 << 16);
    ASSERT_TRUE(device);
    (*device)["require_ledger_proof"] = true;
    (*device)["ledger_checkpoint"] = {{"height", 0}, {"hash", (*config)["genesis_hash"]}};
    (*device)["ledger_min_bits"] = bits;
    (*device)["ledger_finality_depth"] = 1;
    ASSERT_TRUE(WriteFileAtomic(dir + "/device.json", device->dump()));

    ASSERT_EQ(sys.Publish("v1.0.0").exit_code, 0);
    ASSERT_TRUE(sys.BootUntil(dir, sys.gateway_url(), "1.0.0"));
    auto cp1 = LoadJsonFile(dir + "/ledger_checkpoint.json", 1 << 16);
    ASSERT_TRUE(cp1) << "the checkpoint never advanced";
    const auto h1 = (*cp1)["height"].get<std::uint64_t>();
    EXPECT_GE(h1, 1u);

    ASSERT_EQ(sys.Publish("v1.1.0").exit_code, 0);
    ASSERT_TRUE(sys.BootUntil(dir, sys.gateway_url(), "1.1.0"));
    auto cp2 = LoadJsonFile(dir + "/ledger_checkpoint.json", 1 << 16);
    ASSERT_TRUE(cp2);
    EXPECT_GT((*cp2)["height"].get<std::uint64_t>(), h1);
    EXPECT_EQ(sys.Status(dir)["queued_reports"], 0);
}

}  // namespace
}  // namespace fwchain::test
