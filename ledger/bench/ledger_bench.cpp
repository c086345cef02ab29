// Ledger micro-benchmarks for scripts/bench/ledger (DESIGN.md §8). Each subcommand prints
// "name value reference" lines the script turns into BENCH lines. Not built by default.
//
//   ledger_bench hashrate SECONDS
//   ledger_bench validate BLOCKS TXS_PER_BLOCK
//   ledger_bench search DB TXS DEVICES QUERIES
//   ledger_bench status DB DEVICES
//   ledger_bench status-of DB              (the same two queries on an existing store)
//   ledger_bench mkchain DIR BLOCKS [UPDATES_PER_BLOCK]
//                                          (genesis.json, genesis.hash, data/ledger.sqlite)
//   ledger_bench probe URL PATH UNTIL_HEIGHT COUNT   (GET latency p50/p99 against a node)
//   ledger_bench fleet DIR DEVICES MONTHS TXS_PER_BLOCK   (a fleet-scale chain, cached in DIR)
//   ledger_bench mining SECONDS THREADS DUTY   (CPU share of a budgeted miner)
//   ledger_bench mkchain-from GENESIS_JSON KEY DB BLOCKS   (empty blocks on a vendor's genesis)
//   ledger_bench prune DIR UPDATES DEVICES TXS_PER_BLOCK KEEP [BUDGET]
//                                          (archival vs pruned store of the same chain)
#include <cryptopp/sha.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "common/adapters/http.hpp"
#include "common/adapters/sqlite.hpp"
#include "common/core/fs.hpp"
#include "ledger/chain/chain.hpp"
#include "ledger/chain/prefetch.hpp"
#include "ledger/chain/tx_codec.hpp"
#include "ledger/consensus/miner.hpp"
#include "tests/unit/ledger/fixture.hpp"

using namespace fwchain;          // NOLINT: a benchmark main
using namespace fwchain::ledger;  // NOLINT
using Clock = std::chrono::steady_clock;

namespace {

// CPU seconds used by the calling thread so far.
double ThreadCpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double Seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

int Die(const std::string& what) {
    std::fprintf(stderr, "ledger_bench: %s\n", what.c_str());
    return 1;
}

int HashRate(double seconds) {
    BlockHeader h;
    h.bits = 200;  // never met: pure hashing
    h.timestamp = 1700000000;
    MidstateHasher mid(h);
    // What the miner runs: Scan over chunks of nonces (SHA-NI kernel where available).
    std::uint64_t n = 0;
    auto t0 = Clock::now();
    while (Seconds(t0, Clock::now()) < seconds) {
        if (mid.Scan(n, 4096, h.bits)) return Die("hashrate: bits 200 met?");
        n += 4096;
    }
    const double mid_rate = static_cast<double>(n) / Seconds(t0, Clock::now());
    // For the record: one portable compression per nonce (the fallback path).
    std::uint8_t sink = 0;
    n = 0;
    t0 = Clock::now();
    while (Seconds(t0, Clock::now()) < seconds) {
        for (int i = 0; i < 4096; ++i) sink ^= mid.HashWithNonce(n++)[0];
    }
    const double portable_rate = static_cast<double>(n) / Seconds(t0, Clock::now());
    auto bytes = h.Serialize();
    CryptoPP::SHA256 sha;
    std::uint8_t out[32];
    n = 0;
    t0 = Clock::now();
    while (Seconds(t0, Clock::now()) < seconds) {
        for (int i = 0; i < 4096; ++i) {
            PutLe64(bytes.data() + 128, n++);
            sha.CalculateDigest(out, bytes.data(), bytes.size());
            sink ^= out[0];
        }
    }
    const double plain_rate = static_cast<double>(n) / Seconds(t0, Clock::now());
    std::printf("hashrate %.0f %.0f %.0f %u\n", mid_rate, plain_rate, portable_rate, sink);
    return 0;
}

// Blocks of signed update txs replayed into a fresh chain as a syncing node takes them from a
// peer (BlockPrefetcher parsing ahead, Chain::SubmitBlocks connecting) vs Ed25519 verifies/s of
// the same signatures on all cores.
int Validate(int blocks, int per_block) {
    testing::Keys k;
    const Block genesis =
        testing::MakeTestGenesis(k, NowSeconds() - 10 * static_cast<std::int64_t>(blocks) - 1000);
    char tmpl[] = "/tmp/ledger-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return Die("mkdtemp");
    const std::string dir = tmpl;
    ChainOptions o;
    o.db_path = dir + "/a.sqlite";
    o.genesis_hash = genesis.Hash();
    o.genesis = genesis;
    auto a = Chain::Open(o);
    if (!a) return Die(a.error().ToString());
    // Devices admitted first, then blocks of their reports.
    std::vector<SigningKey> devs;
    for (int i = 0; i < per_block; ++i) devs.push_back(SigningKey::Generate());
    std::vector<std::string> texts;
    // The very signatures the blocks carry, for the reference below.
    struct SignedMessage {
        PublicKey key;
        std::string message;
        Signature sig;
    };
    std::vector<SignedMessage> sigs;
    // Blocks 10 s apart from the genesis (on target: the difficulty stays where it is).
    std::int64_t block_time = genesis.header.timestamp;
    auto mine = [&](std::vector<Tx> txs) -> bool {
        for (const auto& tx : txs) {
            if (!(*a)->SubmitTx(tx)) return false;
        }
        block_time += 10;
        auto t = (*a)->BuildTemplate(k.miner.Public(), block_time);
        if (!t) return false;
        Block b = *t;
        testing::SolveAndSign(b, k.miner);
        if (!(*a)->SubmitBlock(b, NowSeconds())) return false;
        texts.push_back(Canonical(b.ToJson()));
        for (const Tx& tx : b.txs) {
            sigs.push_back(SignedMessage{*PublicKeyFromHex(tx.sender), tx.CanonicalText(false),
                                         *SignatureFromHex(tx.sig)});
        }
        return true;
    };
    std::vector<Tx> admits;
    for (int i = 0; i < per_block; ++i) {
        admits.push_back(
            testing::AdmitTx(k.admission, "dev-" + std::to_string(i), devs[i], "device"));
    }
    if (!mine(admits)) return Die("admit block");
    for (int b = 0; b < blocks; ++b) {
        std::vector<Tx> txs;
        for (int i = 0; i < per_block; ++i) {
            txs.push_back(testing::UpdateTx(devs[i], "dev-" + std::to_string(i),
                                            static_cast<std::uint64_t>(b + 1)));
        }
        if (!mine(txs)) return Die("report block");
    }
    // Replay into a fresh chain, timing parse + full validation + storage, as a syncing node
    // does: the next blocks are parsed (signatures verified on all cores) on background threads
    // while the current ones are connected. With `assume_valid`, every block is below a
    // checkpoint: the tx signatures are skipped, everything else is checked.
    std::size_t txs = 0;
    double connect_s = 0;
    double connect_cpu_s = 0;
    auto replay = [&](const std::string& path, bool assume_valid) -> Expected<double> {
        o.db_path = path;
        FW_ASSIGN(auto c, Chain::Open(o));
        const auto r0 = Clock::now();
        txs = 0;
        connect_s = 0;
        connect_cpu_s = 0;
        EncodedBlock::AssumeValid below;
        if (assume_valid) below = [](const Hash256&) { return true; };
        BlockPrefetcher prefetch(
            [&](std::size_t i) -> Expected<std::optional<Json>> {
                if (i >= texts.size()) return std::optional<Json>();
                FW_ASSIGN(Json j, ParseJson(texts[i]));
                return std::optional<Json>(std::move(j));
            },
            kSyncPrefetchDepth, 0, below);
        while (true) {
            auto batch = prefetch.NextBatch(kSyncBatchBlocks);
            if (batch.empty()) break;
            if (batch.error) return Fail(*batch.error);
            for (const auto& b : batch.blocks) txs += b.block().txs.size() + 1;  // + miner sig
            const auto c0 = Clock::now();
            const double cpu0 = ThreadCpuSeconds();
            auto results = c->SubmitBlocks(batch.blocks, NowSeconds() + 1000);
            connect_cpu_s += ThreadCpuSeconds() - cpu0;
            connect_s += Seconds(c0, Clock::now());
            for (const auto& r : results) {
                if (!r) return Fail(r.error());
            }
        }
        return Seconds(r0, Clock::now());
    };
    auto assumed_s = replay(dir + "/c.sqlite", true);
    if (!assumed_s) return Die(assumed_s.error().ToString());
    const auto t0 = Clock::now();
    auto full_s = replay(dir + "/b.sqlite", false);
    if (!full_s) return Die(full_s.error().ToString());
    const double sig_rate = static_cast<double>(txs) / *full_s;
    const auto t_end = Clock::now();
    // Reference: Ed25519 verifies per second on every core, of the same signatures (distinct
    // keys, messages and signatures, as validation meets them; verifying one signature over
    // and over lets the branch predictor learn its variable-time scalar multiplication).
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::uint64_t> counts(cores, 0);
    std::vector<std::thread> threads;
    const auto r0 = Clock::now();
    for (unsigned t = 0; t < cores; ++t) {
        threads.emplace_back([&, t] {
            std::uint64_t n = 0;
            std::size_t i = t * sigs.size() / cores;
            while (Seconds(r0, Clock::now()) < 2.0) {
                for (int k = 0; k < 64; ++k, i = (i + 1) % sigs.size()) {
                    const SignedMessage& m = sigs[i];
                    n += Verify(m.key, m.message, m.sig) ? 1 : 0;
                }
            }
            counts[t] = n;
        });
    }
    for (auto& th : threads) th.join();
    std::uint64_t total = 0;
    for (auto c2 : counts) total += c2;
    const double ref = static_cast<double>(total) / Seconds(r0, Clock::now());
    // Columns: sigs/s, reference verifies/s, blocks, total s, s spent connecting (main thread),
    // s for the same replay below an assume-valid checkpoint, CPU s of the main thread spent
    // connecting (less noisy than the wall clock on a loaded machine).
    std::printf("validate %.0f %.0f %zu %.3f %.3f %.3f %.3f\n", sig_rate, ref, texts.size(),
                Seconds(t0, t_end), connect_s, *assumed_s, connect_cpu_s);
    (void)std::system(("rm -rf '" + dir + "'").c_str());
    return 0;
}

Status Exec(sql::Db& db, const std::string& s) { return db.Exec(s); }

// Bulk-loads `txs` update txs over `devices` devices into a ledger store at DB (schema from
// ChainStore::Open, indexes dropped during the load and rebuilt after).
Status Load(const std::string& path, std::uint64_t txs, std::uint64_t devices) {
    FW_ASSIGN(auto store, ChainStore::Open(path));
    store.reset();
    FW_ASSIGN(sql::Db db, sql::Db::Open(path));
    FW_TRY(Exec(db, "PRAGMA synchronous=OFF; PRAGMA foreign_keys=OFF; PRAGMA cache_size=-262144;"));
    // The schema's own txs indexes, dropped for the load and rebuilt after.
    std::vector<std::pair<std::string, std::string>> indexes;
    {
        FW_ASSIGN(sql::Stmt q, db.Prepare("SELECT name, sql FROM sqlite_master WHERE type = "
                                          "'index' AND tbl_name = 'txs' AND sql IS NOT NULL"));
        while (true) {
            FW_ASSIGN(bool row, q.Step());
            if (!row) break;
            indexes.emplace_back(q.Text(0), q.Text(1));
        }
    }
    for (const auto& [name, sql] : indexes) FW_TRY(Exec(db, "DROP INDEX " + name));
    FW_TRY(db.WriteTransaction([&]() -> Status {
        // The stored form (ledger/chain/tx_codec.hpp) of synthetic update txs.
        FW_ASSIGN(sql::Stmt s, db.Prepare("INSERT INTO txs(pos, id, type, recipient, product, "
                                          "ver, state, time, data) "
                                          "VALUES(?,?,'update',?,'cam',?,?,?,?)"));
        Tx tx;
        tx.type = "update";
        tx.sender = std::string(64, 'a');
        tx.verifier = std::string(64, 'b');
        tx.sig = std::string(128, 'e');
        tx.body = Json{{"product", "cam"}, {"sequence", 3}};
        for (std::uint64_t i = 0; i < txs; ++i) {
            const std::uint64_t height = i / 1000 + 1;
            const std::uint64_t dev = (i * 2654435761u) % devices;
            const std::string device = "dev-" + std::to_string(dev);
            const std::string ver = "1." + std::to_string(i % 7) + ".0";
            const char* state = (i % 50 == 0) ? "failed" : "installed";
            std::uint8_t id[32] = {};
            PutLe64(id, i);
            tx.nonce = i;
            const std::string data = PackTxData(tx);
            s.Reset();
            s.Bind(1, static_cast<std::int64_t>((height << 12) | (i % 1000)))
                .BindBlob(2, id, sizeof(id))
                .Bind(3, device)
                .Bind(4, ver)
                .Bind(5, std::string(state))
                .Bind(6, static_cast<std::int64_t>(1700000000 + i))
                .BindBlob(7, data.data(), data.size());
            FW_TRY(s.Run());
        }
        return {};
    }));
    for (const auto& [name, sql] : indexes) FW_TRY(Exec(db, sql));
    return Exec(db, "ANALYZE");
}

int Search(const std::string& path, std::uint64_t txs, std::uint64_t devices, int queries) {
    const auto l0 = Clock::now();
    if (auto st = Load(path, txs, devices); !st) return Die(st.error().ToString());
    const double load_s = Seconds(l0, Clock::now());
    auto store = ChainStore::Open(path);
    if (!store) return Die(store.error().ToString());
    std::vector<double> ms;
    std::uint64_t found = 0;
    for (int q = 0; q < queries; ++q) {
        SearchQuery sq;
        sq.device = "dev-" + std::to_string((static_cast<std::uint64_t>(q) * 7919u) % devices);
        sq.limit = 100;
        const auto t0 = Clock::now();
        auto page = (*store)->Search(sq);
        ms.push_back(Seconds(t0, Clock::now()) * 1000);
        if (!page) return Die(page.error().ToString());
        found += page->results.size();
    }
    std::sort(ms.begin(), ms.end());
    std::printf("search %.4f %.4f %llu %.1f\n", ms[ms.size() / 2], ms[ms.size() * 99 / 100],
                static_cast<unsigned long long>(found), load_s);
    return 0;
}

// GET /v1/status's store query (the fleet's version distribution) against the raw SQLite query
// on the same store, the best of three rounds each.
int StatusOf(const std::string& path) {
    auto store = ChainStore::Open(path);
    if (!store) return Die(store.error().ToString());
    double best_ours = 1e9;
    double best_raw = 1e9;
    std::uint64_t n_ours = 0;
    std::uint64_t n_raw = 0;
    for (int round = 0; round < 3; ++round) {
        auto t0 = Clock::now();
        auto r = (*store)->FleetStatus("cam", 0, "");
        best_ours = std::min(best_ours, Seconds(t0, Clock::now()));
        if (!r) return Die(r.error().ToString());
        n_ours = r->devices;
        // The raw query: latest installed version per device, counted per version.
        sqlite3* db = nullptr;
        sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
        sqlite3_stmt* s = nullptr;
        t0 = Clock::now();
        sqlite3_prepare_v2(db,
                           "SELECT ver, COUNT(*) FROM (SELECT recipient, ver, MAX(pos) "
                           "FROM txs WHERE type = 'update' AND product = 'cam' AND state = "
                           "'installed' GROUP BY recipient) GROUP BY ver",
                           -1, &s, nullptr);
        n_raw = 0;
        while (sqlite3_step(s) == SQLITE_ROW)
            n_raw += static_cast<std::uint64_t>(sqlite3_column_int64(s, 1));
        sqlite3_finalize(s);
        best_raw = std::min(best_raw, Seconds(t0, Clock::now()));
        sqlite3_close(db);
    }
    std::printf("status %.4f %.4f %llu %llu\n", best_ours * 1000, best_raw * 1000,
                static_cast<unsigned long long>(n_ours), static_cast<unsigned long long>(n_raw));
    return 0;
}

int StatusBench(const std::string& path, std::uint64_t devices) {
    if (auto st = Load(path, devices * 2, devices); !st) return Die(st.error().ToString());
    return StatusOf(path);
}

// A node data dir holding a chain of `blocks` blocks (a few txs each) for the sync benchmark.
// `blocks` blocks on `genesis`, 10 s apart from its timestamp, mined by `miner`; with the
// fixture's keys (`k`), a release tx every 10 blocks.
// `updates` > 0 (test keys only): 10 * updates devices are admitted in the first blocks, then
// every block carries `updates` signed update reports, the devices taking turns.
int BuildChain(const Block& genesis, const SigningKey& miner, const testing::Keys* k,
               const std::string& db_path, int blocks, int updates = 0) {
    spdlog::set_level(spdlog::level::warn);  // one line per connected block otherwise
    ChainOptions o;
    o.db_path = db_path;
    o.genesis_hash = genesis.Hash();
    o.genesis = genesis;
    o.mempool_max = 100000;
    auto c = Chain::Open(o);
    if (!c) return Die(c.error().ToString());
    std::int64_t t = genesis.header.timestamp;
    std::vector<SigningKey> devices;
    if (k != nullptr && updates > 0) devices.resize(static_cast<std::size_t>(updates) * 10);
    std::vector<std::uint64_t> nonces(devices.size(), 0);
    std::size_t admitted = 0;
    std::size_t turn = 0;
    for (int b = 0; b < blocks; ++b) {
        if (k != nullptr && b % 10 == 0) {
            (void)(*c)->SubmitTx(testing::ReleaseTx(k->release, "cam", "1.0." + std::to_string(b),
                                                    static_cast<std::uint64_t>(b + 1)));
        }
        if (admitted < devices.size()) {
            for (std::size_t n = 0; n < 2000 && admitted < devices.size(); ++n, ++admitted) {
                devices[admitted] = SigningKey::Generate();
                auto r = (*c)->SubmitTx(testing::AdmitTx(
                    k->admission, "dev-" + std::to_string(admitted), devices[admitted], "device"));
                if (!r) return Die(r.error().ToString());
            }
        } else {
            for (int n = 0; n < updates && !devices.empty(); ++n, ++turn) {
                const std::size_t d = turn % devices.size();
                auto r = (*c)->SubmitTx(
                    testing::UpdateTx(devices[d], "dev-" + std::to_string(d), ++nonces[d]));
                if (!r) return Die(r.error().ToString());
            }
        }
        t += 10;  // on target: the difficulty stays at its initial value
        auto tmpl = (*c)->BuildTemplate(miner.Public(), t);
        if (!tmpl) return Die(tmpl.error().ToString());
        Block blk = *tmpl;
        testing::SolveAndSign(blk, miner);
        auto r = (*c)->SubmitBlock(EncodedBlock::Encode(std::move(blk), true), NowSeconds());
        if (!r) return Die(r.error().ToString());
    }
    std::printf("mkchain %d\n", blocks);
    return 0;
}

// Empty blocks on a genesis made elsewhere (`vendor-server init --genesis-time`), mined by its
// genesis miner key: a long chain for a real deployment's programs to sync.
int MakeChainFrom(const std::string& genesis_file, const std::string& key_file,
                  const std::string& db_path, int blocks) {
    auto text = ReadFile(genesis_file);
    if (!text) return Die(text.error().ToString());
    auto json = ParseJson(*text);
    if (!json) return Die(json.error().ToString());
    auto genesis = Block::FromJson(*json);
    if (!genesis) return Die(genesis.error().ToString());
    auto key = SigningKey::Load(key_file);
    if (!key) return Die(key.error().ToString());
    return BuildChain(*genesis, *key, nullptr, db_path, blocks);
}

int MakeChain(const std::string& dir, int blocks, int updates) {
    testing::Keys k;
    const Block genesis = testing::MakeTestGenesis(k, NowSeconds() - 10 * blocks - 1000);
    if (!MakeDirs(dir + "/data", 0700)) return Die("mkdir");
    if (!WriteFileAtomic(dir + "/genesis.json", genesis.ToJson().dump())) return Die("genesis");
    if (!WriteFileAtomic(dir + "/genesis.hash", ToHex(genesis.Hash()))) return Die("hash");
    return BuildChain(genesis, k.miner, &k, dir + "/data/ledger.sqlite", blocks, updates);
}

// Runs fn(i) for i in [0, n) on every core.
template <typename F>
void ParallelFor(std::size_t n, F&& fn) {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < cores; ++t) {
        threads.emplace_back([&, t] {
            for (std::size_t i = t; i < n; i += cores) fn(i);
        });
    }
    for (auto& th : threads) th.join();
}

// A fleet-scale chain (issue 14): `devices` admitted devices (2,000 admissions per block), then
// `months` rounds in which every device reports one update (every 50th "failed", version
// 1.<month>.0), `per_block` reports per block, blocks 10 s apart. Txs are signed on every core
// and the blocks connected as a syncing node connects them (Chain::SubmitBlocks, 16 per SQLite
// transaction). Written to DIR (genesis.json, genesis.hash, data/ledger.sqlite) and marked
// complete last: a later run with the same arguments reuses it, an interrupted one starts over.
int Fleet(const std::string& dir, std::uint64_t devices, std::uint64_t months,
          std::uint64_t per_block) {
    spdlog::set_level(spdlog::level::warn);
    const std::string spec =
        std::to_string(devices) + " " + std::to_string(months) + " " + std::to_string(per_block);
    if (auto done = ReadFile(dir + "/complete"); done && *done == spec) {
        std::printf("fleet cached %s\n", spec.c_str());
        return 0;
    }
    (void)std::system(("rm -rf '" + dir + "'").c_str());
    if (!MakeDirs(dir + "/data", 0700)) return Die("mkdir " + dir);
    testing::Keys k;
    const std::uint64_t admit_blocks = (devices + 1999) / 2000;
    const std::uint64_t updates = devices * months;
    const std::uint64_t blocks = admit_blocks + (updates + per_block - 1) / per_block;
    const Block genesis =
        testing::MakeTestGenesis(k, NowSeconds() - 10 * static_cast<std::int64_t>(blocks) - 1000);
    if (!WriteFileAtomic(dir + "/genesis.json", genesis.ToJson().dump())) return Die("genesis");
    if (!WriteFileAtomic(dir + "/genesis.hash", ToHex(genesis.Hash()))) return Die("hash");
    ChainOptions o;
    o.db_path = dir + "/data/ledger.sqlite";
    o.genesis_hash = genesis.Hash();
    o.genesis = genesis;
    o.readers = 0;
    auto c = Chain::Open(o);
    if (!c) return Die(c.error().ToString());
    const auto t0 = Clock::now();
    std::vector<SigningKey> keys(devices);
    ParallelFor(keys.size(), [&](std::size_t i) { keys[i] = SigningKey::Generate(); });

    // Block b's txs: admissions first, then the reports, device after device, month by month.
    auto block_txs = [&](std::uint64_t b, std::int64_t time) {
        std::vector<Tx> txs;
        if (b < admit_blocks) {
            const std::uint64_t first = b * 2000;
            txs.resize(std::min<std::uint64_t>(2000, devices - first));
            ParallelFor(txs.size(), [&](std::size_t i) {
                const std::uint64_t d = first + i;
                txs[i] =
                    testing::AdmitTx(k.admission, "dev-" + std::to_string(d), keys[d], "device");
            });
            return txs;
        }
        const std::uint64_t first = (b - admit_blocks) * per_block;
        txs.resize(std::min<std::uint64_t>(per_block, updates - first));
        ParallelFor(txs.size(), [&](std::size_t i) {
            const std::uint64_t u = first + i;
            const std::uint64_t d = u % devices;
            const std::uint64_t month = u / devices;
            Tx tx;
            tx.type = txtype::kUpdate;
            tx.recipient = "dev-" + std::to_string(d);
            tx.ver = "1." + std::to_string(month) + ".0";
            tx.verifier = Sha256Hex("image " + tx.ver);
            tx.state = u % 50 == 0 ? "failed" : "installed";
            tx.time = time;
            tx.nonce = month + 1;
            tx.body = UpdateTxBody{"cam", month + 1, month, "gw1", "", std::nullopt}.ToJson();
            txs[i] = testing::Signed(std::move(tx), keys[d]);
        });
        return txs;
    };

    auto tip = (*c)->Tip();
    if (!tip) return Die(tip.error().ToString());
    BlockHeader prev = BlockHeader::Deserialize(tip->header.data());
    std::int64_t time = genesis.header.timestamp;
    std::uint64_t done_txs = 0;
    for (std::uint64_t b = 0; b < blocks;) {
        // The difficulty at this height (blocks exactly on target keep it through the batch).
        auto tmpl = (*c)->BuildTemplate(k.miner.Public(), time + 10);
        if (!tmpl) return Die(tmpl.error().ToString());
        std::vector<EncodedBlock> batch;
        for (; b < blocks && batch.size() < kSyncBatchBlocks; ++b) {
            time += 10;
            Block blk;
            blk.header = tmpl->header;
            blk.header.height = prev.height + 1;
            blk.header.prev_hash = prev.Hash();
            blk.header.timestamp = time;
            blk.txs = block_txs(b, time);
            blk.header.merkle_root = MerkleRootOfTxs(blk.txs);
            testing::SolveAndSign(blk, k.miner);
            prev = blk.header;
            done_txs += blk.txs.size();
            batch.push_back(EncodedBlock::Encode(std::move(blk), true));
        }
        for (const auto& r : (*c)->SubmitBlocks(batch, NowSeconds())) {
            if (!r) return Die("block: " + r.error().ToString());
        }
        if (b % 1000 < kSyncBatchBlocks) {
            std::fprintf(stderr, "fleet: %llu/%llu blocks, %llu txs, %.0f s\n",
                         static_cast<unsigned long long>(b),
                         static_cast<unsigned long long>(blocks),
                         static_cast<unsigned long long>(done_txs), Seconds(t0, Clock::now()));
        }
    }
    c->reset();
    if (!WriteFileAtomic(dir + "/complete", spec)) return Die("complete");
    std::printf("fleet built %s %llu %llu %.1f\n", spec.c_str(),
                static_cast<unsigned long long>(blocks), static_cast<unsigned long long>(done_txs),
                Seconds(t0, Clock::now()));
    return 0;
}

// GET base+path (a "{i}" in it becomes the query number mod 1000, e.g. a device id) one after
// another, until the node's tip reaches `until_height` (when > 0) or `count` queries are done:
// latency p50/p99/max in ms. Every answer must be a 200.
int Probe(const std::string& base, const std::string& path, std::uint64_t until_height,
          std::uint64_t count) {
    auto client = http::Client::For(base);
    if (!client) return Die(client.error().ToString());
    std::vector<double> ms;
    for (std::uint64_t i = 0;; ++i) {
        if (count > 0 && i >= count) break;
        if (until_height > 0 && i % 16 == 0) {
            auto tip = client->GetJson("/v1/tip");
            if (!tip) return Die(tip.error().ToString());
            if ((*tip).value("height", std::uint64_t{0}) >= until_height) break;
        }
        std::string p = path;
        if (auto at = p.find("{i}"); at != std::string::npos) {
            p.replace(at, 3, std::to_string(i % 1000));
        }
        const auto t0 = Clock::now();
        auto r = client->GetJson(p);
        if (!r) return Die(p + ": " + r.error().ToString());
        ms.push_back(Seconds(t0, Clock::now()) * 1000);
    }
    if (ms.empty()) return Die("probe: no query ran");
    std::sort(ms.begin(), ms.end());
    auto at = [&](double q) {
        return ms[static_cast<std::size_t>(q * static_cast<double>(ms.size() - 1))];
    };
    std::printf("probe %zu %.3f %.3f %.3f\n", ms.size(), at(0.5), at(0.99), ms.back());
    return 0;
}

// A miner with `threads` threads at `duty` percent searches an unmeetable target for `seconds`:
// the CPU it used (getrusage, the whole process) over the wall time, as a share of one core,
// against the budget threads * duty / 100.
int MiningShare(double seconds, unsigned threads, unsigned duty) {
    BlockHeader templ;
    templ.bits = 255;  // 255 leading zero bits: never met
    MinerOptions mo;
    mo.threads = threads;
    mo.duty_percent = duty;
    std::atomic<bool> stop{false};
    rusage before{};
    getrusage(RUSAGE_SELF, &before);
    const auto t0 = Clock::now();
    std::thread timer([&] {
        std::this_thread::sleep_for(std::chrono::duration<double>(seconds));  // the bench's span
        stop = true;
    });
    MineStats stats;
    MineHeader(templ, mo, stop, &stats);
    timer.join();
    const double wall = Seconds(t0, Clock::now());
    rusage after{};
    getrusage(RUSAGE_SELF, &after);
    auto cpu = [](const rusage& r) {
        return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
               static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
    };
    const double share = (cpu(after) - cpu(before)) / wall;
    std::printf("mining %.4f %.4f %.0f\n", share, threads * duty / 100.0,
                static_cast<double>(stats.hashes) / wall);
    return 0;
}

// Bytes per table and index (SQLite's dbstat), largest first, on stderr.
void PrintTableSizes(const std::string& path, const char* label) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return;
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db,
                           "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC "
                           "LIMIT 12",
                           -1, &s, nullptr) == SQLITE_OK) {
        std::fprintf(stderr, "%s:", label);
        while (sqlite3_step(s) == SQLITE_ROW) {
            std::fprintf(stderr, " %s=%lld",
                         reinterpret_cast<const char*>(sqlite3_column_text(s, 0)),
                         static_cast<long long>(sqlite3_column_int64(s, 1)));
        }
        std::fprintf(stderr, "\n");
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
}

// One chain of UPDATES signed device reports from DEVICES devices (TXS_PER_BLOCK per block, one
// release with a rollout policy), connected into an archival store and, block by block, into a
// pruned store that keeps the txs of KEEP devices (a gateway's own) and checks its BUDGET every
// 64 blocks (default 1 byte: it prunes all it may, as a node far over budget does). Sizes are
// measured with both stores closed (WAL checkpointed into the file) at half the updates and at the
// end, so the growth per update is measured, not assumed. Prints
//   prune UPDATES DEVICES BLOCKS ARCHIVAL_HALF PRUNED_HALF ARCHIVAL_END PRUNED_END SECONDS
int PruneBench(const std::string& dir, std::uint64_t updates, std::uint64_t devices,
               std::uint64_t per_block, std::uint64_t keep, std::uint64_t budget) {
    spdlog::set_level(spdlog::level::warn);  // one line per connected block otherwise
    testing::Keys k;
    const std::uint64_t blocks_total = (devices + 1999) / 2000 + updates / per_block + 2;
    const Block genesis = testing::MakeTestGenesis(
        k, NowSeconds() - 10 * static_cast<std::int64_t>(blocks_total) - 1000);
    if (!MakeDirs(dir, 0700)) return Die("mkdir");
    ChainOptions ao;
    ao.db_path = dir + "/archival.sqlite";
    ao.genesis_hash = genesis.Hash();
    ao.genesis = genesis;
    ao.mempool_max = 100000;
    ChainOptions po = ao;
    po.db_path = dir + "/pruned.sqlite";
    po.prune_budget = budget;
    std::unique_ptr<Chain> a;
    std::unique_ptr<Chain> p;
    std::vector<std::string> kept;
    for (std::uint64_t i = 0; i < keep && i < devices; ++i)
        kept.push_back("dev-" + std::to_string(i));
    auto reopen = [&]() -> Status {
        a.reset();
        p.reset();
        FW_ASSIGN(a, Chain::Open(ao));
        FW_ASSIGN(p, Chain::Open(po));
        return p->KeepDevices(kept);
    };
    if (auto st = reopen(); !st) return Die(st.error().ToString());
    std::int64_t t = genesis.header.timestamp;
    std::uint64_t blocks = 0;
    auto mine = [&](const std::vector<Tx>& txs) -> Status {
        for (const auto& tx : txs) FW_TRY(a->SubmitTx(tx));
        t += 10;  // on target: the difficulty stays at its initial value
        FW_ASSIGN(Block b, a->BuildTemplate(k.miner.Public(), t));
        if (b.txs.size() != txs.size()) return Fail(Errc::kInternal, "bench", "block not full");
        testing::SolveAndSign(b, k.miner);
        const EncodedBlock e = EncodedBlock::Encode(std::move(b), true);
        FW_TRY(a->SubmitBlock(e, NowSeconds()));
        FW_TRY(p->SubmitBlock(e, NowSeconds()));
        if (++blocks % 64 == 0) FW_TRY(p->PruneIfNeeded());
        return {};
    };
    const auto t0 = Clock::now();
    std::vector<SigningKey> keys;
    for (std::uint64_t i = 0; i < devices; ++i) keys.push_back(SigningKey::Generate());
    std::vector<Tx> txs;
    for (std::uint64_t i = 0; i < devices; ++i) {
        txs.push_back(testing::AdmitTx(k.admission, "dev-" + std::to_string(i), keys[i], "device"));
        if (txs.size() == 2000 || i + 1 == devices) {
            if (auto st = mine(txs); !st) return Die(st.error().ToString());
            txs.clear();
        }
    }
    {
        Tx release = testing::ReleaseTx(k.release, "cam", "1.1.0", 1);
        Rollout r;
        r.stages = {RolloutStage{100, 0}};
        r.max_failure_rate = 10;
        r.min_reports = 100;
        release.body = ReleaseTxBody{1, Sha256Hex("manifest"), {"rev-b"}, r, 0}.ToJson();
        if (auto st = mine({testing::Signed(release, k.release)}); !st) {
            return Die(st.error().ToString());
        }
    }
    std::uint64_t sizes[4] = {0, 0, 0, 0};
    auto measure = [&](std::uint64_t* out) -> Status {
        FW_TRY(p->PruneIfNeeded());
        FW_ASSIGN(Json before, a->Rollouts("cam", t));
        FW_ASSIGN(Json after, p->Rollouts("cam", t));
        if (before != after) return Fail(Errc::kInternal, "bench", "rollout reports differ");
        FW_TRY(reopen());  // closing checkpoints the WAL into the file
        FW_ASSIGN(StorageStatus sa, a->Storage());
        FW_ASSIGN(StorageStatus sp, p->Storage());
        out[0] = sa.store_bytes;
        out[1] = sp.store_bytes;
        return {};
    };
    for (std::uint64_t i = 0; i < updates; ++i) {
        const std::uint64_t dev = i % devices;
        Tx tx = testing::UpdateTx(keys[dev], "dev-" + std::to_string(dev), i / devices + 1,
                                  i % 50 == 0 ? "failed" : "installed", "1.1.0");
        tx.body = UpdateTxBody{"cam", 1, 0, "gw1", "", std::nullopt}.ToJson();
        txs.push_back(testing::Signed(tx, keys[dev]));
        if (txs.size() == per_block || i + 1 == updates) {
            if (auto st = mine(txs); !st) return Die(st.error().ToString());
            txs.clear();
        }
        if (i + 1 == updates / 2) {
            if (auto st = measure(sizes); !st) return Die(st.error().ToString());
        }
    }
    if (auto st = measure(sizes + 2); !st) return Die(st.error().ToString());
    const double seconds = Seconds(t0, Clock::now());
    a.reset();
    p.reset();
    PrintTableSizes(ao.db_path, "archival");
    PrintTableSizes(po.db_path, "pruned");
    std::printf("prune %llu %llu %llu %llu %llu %llu %llu %.1f\n",
                static_cast<unsigned long long>(updates), static_cast<unsigned long long>(devices),
                static_cast<unsigned long long>(blocks), static_cast<unsigned long long>(sizes[0]),
                static_cast<unsigned long long>(sizes[1]),
                static_cast<unsigned long long>(sizes[2]),
                static_cast<unsigned long long>(sizes[3]), seconds);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    sql::DisableMemoryStatistics();  // as the ledger node does (ledger/main.cpp)
    const std::vector<std::string> a(argv + 1, argv + argc);
    if (a.size() == 2 && a[0] == "hashrate") return HashRate(std::atof(a[1].c_str()));
    if (a.size() == 3 && a[0] == "validate")
        return Validate(std::atoi(a[1].c_str()), std::atoi(a[2].c_str()));
    if (a.size() == 5 && a[0] == "search") {
        return Search(a[1], std::strtoull(a[2].c_str(), nullptr, 10),
                      std::strtoull(a[3].c_str(), nullptr, 10), std::atoi(a[4].c_str()));
    }
    if (a.size() == 2 && a[0] == "status-of") return StatusOf(a[1]);
    if (a.size() == 3 && a[0] == "status")
        return StatusBench(a[1], std::strtoull(a[2].c_str(), nullptr, 10));
    if ((a.size() == 3 || a.size() == 4) && a[0] == "mkchain") {
        return MakeChain(a[1], std::atoi(a[2].c_str()),
                         a.size() == 4 ? std::atoi(a[3].c_str()) : 0);
    }
    if (a.size() == 5 && a[0] == "fleet") {
        auto n = [&](std::size_t i) { return std::strtoull(a[i].c_str(), nullptr, 10); };
        return Fleet(a[1], std::max(1ull, n(2)), n(3), std::max(1ull, n(4)));
    }
    if (a.size() == 5 && a[0] == "probe") {
        return Probe(a[1], a[2], std::strtoull(a[3].c_str(), nullptr, 10),
                     std::strtoull(a[4].c_str(), nullptr, 10));
    }
    if (a.size() == 5 && a[0] == "mkchain-from") {
        return MakeChainFrom(a[1], a[2], a[3], std::atoi(a[4].c_str()));
    }
    if (a.size() == 4 && a[0] == "mining") {
        return MiningShare(std::atof(a[1].c_str()), static_cast<unsigned>(std::atoi(a[2].c_str())),
                           static_cast<unsigned>(std::atoi(a[3].c_str())));
    }
    if ((a.size() == 6 || a.size() == 7) && a[0] == "prune") {
        auto n = [&](std::size_t i) { return std::strtoull(a[i].c_str(), nullptr, 10); };
        return PruneBench(a[1], n(2), n(3), std::max(1ull, n(4)), n(5),
                          a.size() == 7 ? std::max(1ull, n(6)) : 1);
    }
    return Die(
        "usage: hashrate S | validate BLOCKS TXS | search DB TXS DEVICES Q | status DB "
        "DEVICES | status-of DB | mkchain DIR BLOCKS [UPDATES] | probe URL PATH UNTIL_HEIGHT COUNT "
        "| fleet DIR "
        "DEVICES MONTHS TXS | mkchain-from "
        "GENESIS KEY DB BLOCKS | mining S THREADS "
        "DUTY | prune DIR UPDATES DEVICES TXS_PER_BLOCK KEEP [BUDGET]");
}
