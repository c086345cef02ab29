// `fuzz_replay --write-seeds DIR`: (re)writes the generated seed corpora, DIR/<target>/<name>,
// from the fixture's fixed keys (Ed25519 signatures are deterministic, so the bytes are stable).
// Hand-written seeds (odd shapes) live next to them in the repository.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/core/fs.hpp"
#include "device-agent/ledger_proof.hpp"
#include "ledger/primitives/block.hpp"
#include "tests/fuzz/fixture.hpp"
#include "vendor-server/torrent.hpp"

namespace fwchain::fuzz {

namespace {

bool Write(const std::string& dir, const std::string& target, const std::string& name,
           const std::string& bytes) {
    std::filesystem::create_directories(dir + "/" + target);
    std::ofstream out(dir + "/" + target + "/" + name, std::ios::binary | std::ios::trunc);
    out << bytes;
    return static_cast<bool>(out);
}

}  // namespace

int WriteSeeds(const std::string& dir) {
    const Fixture& f = TheFixture();
    bool ok = true;
    auto check = [&ok](bool done) { ok = ok && done; };
    check(Write(dir, "json", "root", f.root.envelope.Serialize()));
    check(Write(dir, "json", "nested", R"({"a":[1,-2,{"b":"\u00e9\n"}],"c":null,"d":true})"));
    check(Write(dir, "envelope", "root", f.root.envelope.Serialize()));
    check(Write(dir, "envelope", "timestamp", f.timestamp.envelope.Serialize()));
    check(Write(dir, "envelope", "release", f.manifest.Serialize()));
    check(Write(dir, "tx", "release", Canonical(f.release_tx.ToJson())));
    check(Write(dir, "report", "update", Canonical(ReportTx().ToJson())));

    ledger::Block block;
    block.header.bits = 1;
    block.header.height = 1;
    block.header.timestamp = kNow;
    block.header.miner = f.miner_a.Public();
    block.txs = {f.release_tx, ReportTx()};
    block.header.merkle_root = ledger::MerkleRootOfTxs(block.txs);
    const Hash256 hash = block.Hash();
    block.miner_sig =
        f.miner_a.Sign(std::string_view(reinterpret_cast<const char*>(hash.data()), hash.size()));
    block.message = "seed";
    check(Write(dir, "block", "two-txs", Canonical(block.ToJson())));
    const auto header = block.header.Serialize();
    check(Write(dir, "header", "block-1",
                std::string(reinterpret_cast<const char*>(header.data()), header.size())));

    const std::string proof = ValidLedgerProof();
    // The signed seeds must reach the end of the checks, or the fuzzer never gets past them.
    device::LedgerPolicy policy;
    policy.min_bits = kProofBits;
    policy.finality_depth = 1;
    policy.genesis_miners = {f.miner_a.Public(), f.miner_b.Public()};
    auto verified = device::VerifyLedgerProof(f.root, f.timestamp, f.release, *ParseJson(proof),
                                              {0, GenesisHash()}, policy);
    if (!verified) {
        std::fprintf(stderr, "the seed ledger proof does not verify: %s\n",
                     verified.error().ToString().c_str());
        return 1;
    }
    check(static_cast<bool>(
        VerifyRelease(f.root, f.manifest, kNow, {"acme", "cam", "rev-b", 0, 0}, f.timestamp)));
    check(Write(dir, "ledger_proof", "valid", proof));
    Json answer{{"gateway_id", "gw"},
                {"roots", Json::array()},
                {"timestamp", f.timestamp.envelope.ToJson()},
                {"manifest", f.manifest.ToJson()},
                {"ledger", *ParseJson(proof)}};
    check(Write(dir, "check_answer", "with-proof", Canonical(answer)));
    answer["manifest"] = nullptr;
    answer.erase("ledger");
    check(Write(dir, "check_answer", "up-to-date", Canonical(answer)));

    check(Write(dir, "announce", "started",
                "info_hash=%01%02%03%04%05%06%07%08%09%0a%0b%0c%0d%0e%0f%10%11%12%13%14"
                "&peer_id=-FW0001-abcdefghijkl&port=6881&uploaded=0&downloaded=0&left=100"
                "&event=started&compact=1&numwant=20"));
    check(Write(dir, "announce", "stopped",
                "info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=1&left=0"
                "&event=stopped&compact=0"));

    const std::string tmp = std::filesystem::temp_directory_path() / "fwchain-fuzz-seed";
    std::filesystem::create_directories(tmp);
    check(static_cast<bool>(WriteFileAtomic(tmp + "/image", std::string(40000, 'x'))));
    auto torrent = vendor::MakeTorrent(tmp, "image");
    std::filesystem::remove_all(tmp);
    check(static_cast<bool>(torrent));
    if (torrent) check(Write(dir, "torrent", "hybrid", torrent->bytes));
    return ok ? 0 : 1;
}

}  // namespace fwchain::fuzz
