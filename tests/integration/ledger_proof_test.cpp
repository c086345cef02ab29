// The gateway's ledger proofs (docs/protocol.md "Ledger proofs for devices") checked against the
// real ledger: the headers link from genesis, meet their bits, carry their miner's signature, and
// the Merkle path folds the release tx id into the merkle root of its block, with the
// confirmations on top.
#include <gtest/gtest.h>

#include "common/adapters/http.hpp"
#include "common/core/crypto.hpp"
#include "common/core/tx.hpp"
#include "common/core/tx_bodies.hpp"
#include "ledger/primitives/block.hpp"
#include "ledger/primitives/merkle.hpp"
#include "tests/integration/system.hpp"

namespace fwchain::test {
namespace {

TEST(LedgerProof, GatewayAnswersCarryAVerifiableProofOfTheRelease) {
    System sys;
    sys.Tag("v1.0.0", "First release");
    sys.Start(1);
    auto pub = sys.Publish("v1.0.0");
    ASSERT_EQ(pub.exit_code, 0) << pub.err;

    auto genesis_json = LoadJsonFile(sys.vendor_dir() + "/genesis.json");
    ASSERT_TRUE(genesis_json);
    auto genesis = ledger::Block::FromJson(*genesis_json);
    ASSERT_TRUE(genesis);

    auto client = http::Client::For(sys.gateway_url());
    Json request = {{"device_id", "probe"},
                    {"product", "cam"},
                    {"hardware", "rev-b"},
                    {"sequence", 0},
                    {"root_version", 1},
                    {"ledger_proof", true},
                    {"ledger_checkpoint", {{"height", 0}, {"hash", ToHex(genesis->Hash())}}}};
    Json answer;
    ASSERT_TRUE(WaitFor(
        [&] {
            auto a = client->PostJson("/v1/check", request);
            if (!a || !(*a)["manifest"].is_object()) return false;
            answer = *a;
            return true;
        },
        std::chrono::seconds(90)));
    ASSERT_TRUE(answer.contains("ledger")) << answer.dump();
    const Json& l = answer["ledger"];

    // The headers link from the genesis block and meet their difficulty.
    Hash256 prev = genesis->Hash();
    std::vector<ledger::BlockHeader> headers;
    for (const auto& entry : l["headers"]) {
        auto bytes = FromHex(entry["header"].get<std::string>());
        ASSERT_TRUE(bytes && bytes->size() == ledger::kHeaderSize);
        auto h = ledger::BlockHeader::Deserialize(bytes->data());
        EXPECT_EQ(h.prev_hash, prev) << "height " << h.height;
        EXPECT_TRUE(ledger::MeetsBits(h.Hash(), h.bits)) << "height " << h.height;
        // Signed by its miner, here the vendor's node (a genesis miner: no admission needed).
        auto sig = SignatureFromHex(entry["miner_sig"].get<std::string>());
        ASSERT_TRUE(sig);
        const Hash256 hash = h.Hash();
        EXPECT_TRUE(Verify(h.miner, hash.data(), hash.size(), *sig)) << "height " << h.height;
        EXPECT_EQ(h.height, headers.size() + 1);
        prev = h.Hash();
        headers.push_back(h);
    }
    const auto height = l["height"].get<std::uint64_t>();
    ASSERT_GE(height, 1u);
    ASSERT_LE(height, headers.size());
    EXPECT_GE(headers.size() - height + 1, 2u) << "fewer than 2 confirmations";

    // The tx is the release of this manifest, and its Merkle path reaches the block's root.
    auto tx = ParseTx(l["tx"]);
    ASSERT_TRUE(tx) << tx.error().ToString();
    EXPECT_EQ(tx->type, "release");
    auto manifest = ParseEnvelope(answer["manifest"]);
    ASSERT_TRUE(manifest);
    auto body = ReleaseTxBody::Parse(tx->body);
    ASSERT_TRUE(body) << body.error().ToString();
    EXPECT_EQ(body->manifest_sha256, manifest->SignedHash());
    auto proof = ledger::MerkleProofFromJson(l["proof"]);
    ASSERT_TRUE(proof);
    auto leaf = Hash256FromHex(tx->Id());
    ASSERT_TRUE(leaf);
    EXPECT_EQ(ledger::MerkleRootFromProof(*leaf, *proof), headers[height - 1].merkle_root);

    // A tampered tx no longer folds into the root.
    Tx forged = *tx;
    forged.ver = "9.9.9";
    auto forged_leaf = Hash256FromHex(forged.Id());
    EXPECT_NE(ledger::MerkleRootFromProof(*forged_leaf, *proof), headers[height - 1].merkle_root);
}

}  // namespace
}  // namespace fwchain::test
