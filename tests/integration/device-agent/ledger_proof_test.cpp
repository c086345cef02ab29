// require_ledger_proof against the real stack: the gateway attaches the release tx, its Merkle
// path and the headers from the device's checkpoint; the device verifies them, installs, and
// advances its checkpoint, from which the next release is proven.
#include <gtest/gtest.h>

#include "common/adapters/http.hpp"
#include "common/core/fs.hpp"
#include "ledger/primitives/block.hpp"
#include "tests/integration/system.hpp"

namespace fwchain::test {
namespace {

TEST(LedgerProof, ADeviceRequiringProofsUpdatesTwiceAndAdvancesItsCheckpoint) {
    System sys;
    sys.Tag("v1.0.0", "First release");
    sys.Tag("v1.1.0", "Second release");
    sys.Start(/*gateways=*/1);
    const std::string dir = sys.Provision("cam-proof");

    // Provisioning wrote the ledger anchor: the genesis as checkpoint (the vendor has not signed
    // one yet), the genesis miners and the chain's difficulty.
    auto config = LoadJsonFile(sys.vendor_dir() + "/config.json", 1 << 16);
    auto genesis = LoadJsonFile(sys.vendor_dir() + "/genesis.json", 1 << 22);
    ASSERT_TRUE(config && genesis);
    auto device = LoadJsonFile(dir + "/device.json", 1 << 16);
    ASSERT_TRUE(device);
    EXPECT_EQ((*device)["ledger_checkpoint"],
              Json({{"height", 0}, {"hash", (*config)["genesis_hash"]}}));
    EXPECT_EQ((*device)["ledger_genesis_miners"], (*genesis)["txs"][0]["body"]["miners"]);
    EXPECT_EQ((*device)["ledger_min_bits"], (*genesis)["txs"][0]["body"]["params"]["initial_bits"]);
    // The integrator's part: ask for proofs. This demo chain has one miner (the vendor's node),
    // so one distinct miner is all the device can require.
    (*device)["require_ledger_proof"] = true;
    (*device)["ledger_min_miners"] = 1;
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

// The vendor's signed ledger facts: with a margin of 1 block, `serve` names the release's block
// and a checkpoint in the timestamp; a device provisioned afterwards starts from that checkpoint
// (not genesis) and verifies the next release from there.
TEST(LedgerProof, ADeviceProvisionedLaterStartsFromTheVendorsSignedCheckpoint) {
    System sys;
    sys.Tag("v1.0.0", "First release");
    sys.Tag("v1.1.0", "Second release");
    sys.Start(1, {"--checkpoint-margin", "1", "--checkpoint-interval", "1"});
    ASSERT_EQ(sys.Publish("v1.0.0").exit_code, 0);

    auto vendor = http::Client::For(sys.vendor_url());
    ASSERT_TRUE(vendor);
    Json ts;
    ASSERT_TRUE(WaitFor(
        [&] {
            auto t = vendor->GetJson("/v1/timestamp");
            if (!t) return false;
            ts = (*t)["signed"];
            return ts.contains("checkpoint") && ts["manifests"]["cam"]["1"].contains("block");
        },
        std::chrono::seconds(60)))
        << ts.dump();
    const auto checkpoint = ts["checkpoint"]["height"].get<std::uint64_t>();
    EXPECT_GE(checkpoint, ts["manifests"]["cam"]["1"]["block"]["height"].get<std::uint64_t>());

    const std::string dir = sys.Provision("cam-late");
    auto device = LoadJsonFile(dir + "/device.json", 1 << 16);
    ASSERT_TRUE(device);
    EXPECT_GE((*device)["ledger_checkpoint"]["height"].get<std::uint64_t>(), checkpoint);
    EXPECT_NE((*device)["ledger_checkpoint"]["height"], 0);
    (*device)["require_ledger_proof"] = true;
    (*device)["ledger_min_miners"] = 1;
    (*device)["ledger_finality_depth"] = 1;
    ASSERT_TRUE(WriteFileAtomic(dir + "/device.json", device->dump()));

    // v1.0.0's block is below the device's checkpoint: provable only from its named block, once
    // the gateway has polled a timestamp that names it.
    auto gateway = http::Client::For(sys.gateway_url());
    ASSERT_TRUE(gateway);
    const Json check = {{"device_id", "cam-late"},
                        {"product", "cam"},
                        {"hardware", "rev-b"},
                        {"sequence", 0},
                        {"root_version", 1},
                        {"ledger_proof", true},
                        {"ledger_checkpoint", (*device)["ledger_checkpoint"]}};
    Json answer;
    ASSERT_TRUE(WaitFor([&] {
        auto a = gateway->PostJson("/v1/check", check);
        if (!a || !a->contains("ledger")) return false;
        answer = *a;
        return true;
    }));
    // The proof starts at the release's named block, not at genesis.
    auto first = FromHex(answer["ledger"]["headers"][0]["header"].get<std::string>());
    ASSERT_TRUE(first && first->size() == ledger::kHeaderSize);
    EXPECT_EQ(ledger::BlockHeader::Deserialize(first->data()).height,
              ts["manifests"]["cam"]["1"]["block"]["height"].get<std::uint64_t>());
    EXPECT_LE(answer["ledger"]["headers"].size(), 65u);  // the block and 64 above it at most
    ASSERT_TRUE(sys.BootUntil(dir, sys.gateway_url(), "1.0.0"));
    ASSERT_EQ(sys.Publish("v1.1.0").exit_code, 0);
    ASSERT_TRUE(sys.BootUntil(dir, sys.gateway_url(), "1.1.0"));
    auto cp = LoadJsonFile(dir + "/ledger_checkpoint.json", 1 << 16);
    ASSERT_TRUE(cp);
    EXPECT_GE((*cp)["height"].get<std::uint64_t>(), checkpoint);
}

}  // namespace
}  // namespace fwchain::test
