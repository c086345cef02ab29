#include "vendor-server/serve.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "common/core/metadata.hpp"
#include "common/core/tx_bodies.hpp"
#include "tests/support/process.hpp"
#include "tests/unit/vendor-server/fixture.hpp"
#include "vendor-server/catalog.hpp"
#include "vendor-server/data_dir.hpp"
#include "vendor-server/http_api.hpp"
#include "vendor-server/metadata_store.hpp"
#include "vendor-server/outbox.hpp"
#include "vendor-server/provision.hpp"
#include "vendor-server/publish.hpp"

namespace fwchain::vendor {
namespace {

using fwchain::test::WaitFor;

// Runs an httplib server on a loopback port in a thread; stops it on destruction.
class ServerThread {
  public:
    ServerThread(std::function<void()> run, std::function<void()> stop) : stop_(std::move(stop)) {
        thread_ = std::thread([this, run = std::move(run)] {
            run();
            done_ = true;
        });
    }
    ~ServerThread() {
        // stop() is ignored until the accept loop runs, so repeat it until the thread ends.
        while (!done_) {
            stop_();
            WaitFor([&] { return done_.load(); }, std::chrono::milliseconds(100));
        }
        thread_.join();
    }

  private:
    std::function<void()> stop_;
    std::atomic<bool> done_{false};
    std::thread thread_;
};

class ServeTest : public test::VendorFixture {
  protected:
    void StartApi() {
        auto api = ApiServer::Create(DataDir(data()));
        ASSERT_TRUE(api) << api.error().ToString();
        api_ = std::move(*api);
        auto port = api_->Bind("127.0.0.1", 0);
        ASSERT_TRUE(port) << port.error().ToString();
        port_ = *port;
        thread_ = std::make_unique<ServerThread>([this] { api_->Run(); }, [this] { api_->Stop(); });
        client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
        client_->set_connection_timeout(5);
        client_->set_read_timeout(10);
    }
    void TearDown() override {
        thread_.reset();
        api_.reset();
    }
    Json GetJson(const std::string& path, int expect_status = 200) {
        auto res = client_->Get(path.c_str());
        EXPECT_TRUE(res) << path;
        if (!res) return Json();
        EXPECT_EQ(expect_status, res->status) << path << ": " << res->body;
        auto j = ParseJson(res->body);
        EXPECT_TRUE(j) << res->body;
        return j ? *j : Json();
    }

    std::unique_ptr<ApiServer> api_;
    std::unique_ptr<ServerThread> thread_;
    std::unique_ptr<httplib::Client> client_;
    int port_ = 0;
};

TEST_F(ServeTest, AnswersRootsTimestampManifestsAndImages) {
    auto p1 = Publish(PublishOpts("v1.0.0"));
    ASSERT_TRUE(p1) << p1.error().ToString();
    StartApi();

    EXPECT_EQ("ok", GetJson("/v1/health").at("status"));

    const Json roots = GetJson("/v1/roots?since=0");
    ASSERT_EQ(1u, roots.at("roots").size());
    auto root_env = ParseEnvelope(roots.at("roots").at(0));
    ASSERT_TRUE(root_env);
    auto root = VerifyInitialRoot(*root_env, NowSeconds());
    ASSERT_TRUE(root) << root.error().ToString();
    EXPECT_TRUE(GetJson("/v1/roots?since=1").at("roots").empty());
    EXPECT_EQ(1u, GetJson("/v1/roots").at("roots").size());

    auto ts_env = ParseEnvelope(GetJson("/v1/timestamp"));
    ASSERT_TRUE(ts_env);
    auto ts = VerifyTimestamp(*root, *ts_env, NowSeconds(), {});
    ASSERT_TRUE(ts) << ts.error().ToString();
    EXPECT_EQ(1u, ts->latest.at("cam"));

    const Json manifests = GetJson("/v1/manifests/cam?since=0");
    ASSERT_EQ(1u, manifests.at("manifests").size());
    auto m_env = ParseEnvelope(manifests.at("manifests").at(0));
    ASSERT_TRUE(m_env);
    auto rel = VerifyRelease(*root, *m_env, NowSeconds(), {"acme", "cam", "rev-a", 0, 0}, *ts);
    ASSERT_TRUE(rel) << rel.error().ToString();
    EXPECT_EQ(p1->sha256, rel->image.sha256);
    EXPECT_TRUE(GetJson("/v1/manifests/cam?since=1").at("manifests").empty());
    EXPECT_TRUE(GetJson("/v1/manifests/unknown").at("manifests").empty());

    const std::string image_path = "/v1/images/" + p1->sha256;
    auto full = client_->Get(image_path.c_str());
    ASSERT_TRUE(full);
    EXPECT_EQ(200, full->status);
    EXPECT_EQ("firmware one", full->body);
    EXPECT_EQ(Sha256Hex(full->body), p1->sha256);

    auto range = client_->Get(image_path.c_str(), {{"Range", "bytes=2-5"}});
    ASSERT_TRUE(range);
    EXPECT_EQ(206, range->status);
    EXPECT_EQ("rmwa", range->body);
    auto tail = client_->Get(image_path.c_str(), {{"Range", "bytes=9-"}});
    ASSERT_TRUE(tail);
    EXPECT_EQ(206, tail->status);
    EXPECT_EQ("one", tail->body);

    auto missing = client_->Get(("/v1/images/" + std::string(64, 'a')).c_str());
    ASSERT_TRUE(missing);
    EXPECT_EQ(404, missing->status);
}

TEST_F(ServeTest, SeesReleasesPublishedWhileRunning) {
    StartApi();
    EXPECT_TRUE(GetJson("/v1/manifests/cam").at("manifests").empty());
    ASSERT_TRUE(Publish(PublishOpts("v1.0.0")));
    ASSERT_TRUE(Publish(PublishOpts("v1.1.0")));
    const Json manifests = GetJson("/v1/manifests/cam?since=0");
    ASSERT_EQ(2u, manifests.at("manifests").size());
    EXPECT_EQ(1u, manifests.at("manifests").at(0).at("signed").at("sequence").get<std::uint64_t>());
    EXPECT_EQ(2u, manifests.at("manifests").at(1).at("signed").at("sequence").get<std::uint64_t>());
    EXPECT_EQ(2u,
              GetJson("/v1/timestamp").at("signed").at("latest").at("cam").get<std::uint64_t>());
}

TEST_F(ServeTest, RejectsPathTricks) {
    auto p1 = Publish(PublishOpts("v1.0.0"));
    ASSERT_TRUE(p1);
    StartApi();
    auto key_json = LoadJsonFile(DataDir(data()).Key("root"));
    ASSERT_TRUE(key_json);
    const std::string secret = key_json->at("private").get<std::string>();

    std::string upper = p1->sha256;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (const std::string& path : {
             std::string("/v1/images/../keys/root.key"),
             std::string("/v1/images/..%2Fkeys%2Froot.key"),
             std::string("/v1/images/../../keys/root.key"),
             std::string("/v1/images/..%2F..%2Fkeys%2Froot.key"),
             std::string("/v1/images/%2e%2e/%2e%2e/keys/root.key"),
             "/v1/images/" + p1->sha256 + "/../../keys/root.key",
             "/v1/images/" + upper,
             "/v1/images/" + p1->sha256 + "x",
             "/v1/images/" + p1->sha256.substr(0, 63),
             std::string("/v1/manifests/..%2F..%2Fkeys"),
             std::string("/v1/manifests/.."),
             std::string("/v1/images/.tmp-0000"),
         }) {
        auto res = client_->Get(path.c_str());
        ASSERT_TRUE(res) << path;
        EXPECT_GE(res->status, 400) << path;
        EXPECT_LT(res->status, 500) << path;
        EXPECT_EQ(std::string::npos, res->body.find(secret)) << path;
    }
    auto bad_since = client_->Get("/v1/manifests/cam?since=-1");
    ASSERT_TRUE(bad_since);
    EXPECT_EQ(400, bad_since->status);
    auto bad_roots = client_->Get("/v1/roots?since=abc");
    ASSERT_TRUE(bad_roots);
    EXPECT_EQ(400, bad_roots->status);
}

// A ledger stand-in answering POST /v1/tx with scripted statuses.
class FakeLedger {
  public:
    FakeLedger() {
        server_.Post("/v1/tx", [this](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard<std::mutex> lock(mu_);
            bodies_.push_back(req.body);
            const int status = statuses_.empty() ? 200 : statuses_.front();
            if (!statuses_.empty()) statuses_.pop_front();
            res.status = status;
            if (status == 200) {
                res.set_content(R"({"id":"x","status":"pending"})", "application/json");
            } else if (status == 409) {  // the node's answer to a tx it already holds
                res.set_content(R"({"error":"duplicate","id":"x","message":"tx already known"})",
                                "application/json");
            } else {
                res.set_content(R"({"error":"unauthorized","message":"sender not admitted"})",
                                "application/json");
            }
        });
        // What Maintainer reads for the timestamp's ledger facts.
        server_.Get("/v1/tip", [this](const httplib::Request&, httplib::Response& res) {
            std::lock_guard<std::mutex> lock(mu_);
            res.set_content(Json{{"height", tip_}, {"hash", BlockHash(tip_)}}.dump(),
                            "application/json");
        });
        server_.Get("/v1/headers", [](const httplib::Request& req, httplib::Response& res) {
            const std::uint64_t from = std::stoull(req.get_param_value("from"));
            res.set_content(Json{{"headers",
                                  {{{"height", from},
                                    {"hash", BlockHash(from)},
                                    {"header", ""},
                                    {"miner_sig", ""}}}}}
                                .dump(),
                            "application/json");
        });
        server_.Get("/v1/search", [this](const httplib::Request&, httplib::Response& res) {
            std::lock_guard<std::mutex> lock(mu_);
            Json results = Json::array();
            for (const auto& [manifest, height] : releases_) {
                results.push_back(Json{
                    {"id", std::string(64, '1')},
                    {"height", height},
                    {"block_hash", BlockHash(height)},
                    {"confirmations", tip_ - height + 1},
                    {"tx",
                     {{"body", ReleaseTxBody{1, manifest, {"rev-b"}, std::nullopt, 0}.ToJson()}}}});
            }
            res.set_content(Json{{"results", results}}.dump(), "application/json");
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::make_unique<ServerThread>([this] { server_.listen_after_bind(); },
                                                 [this] { server_.stop(); });
    }
    ~FakeLedger() { thread_.reset(); }
    std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    void Script(std::deque<int> statuses) {
        std::lock_guard<std::mutex> lock(mu_);
        statuses_ = std::move(statuses);
    }
    std::size_t Received() {
        std::lock_guard<std::mutex> lock(mu_);
        return bodies_.size();
    }
    void SetTip(std::uint64_t height) {
        std::lock_guard<std::mutex> lock(mu_);
        tip_ = height;
    }
    void AddRelease(const std::string& manifest_sha256, std::uint64_t height) {
        std::lock_guard<std::mutex> lock(mu_);
        releases_[manifest_sha256] = height;
    }
    static std::string BlockHash(std::uint64_t height) {
        return Sha256Hex("block " + std::to_string(height));
    }

  private:
    httplib::Server server_;
    int port_ = 0;
    std::mutex mu_;
    std::deque<int> statuses_;
    std::vector<std::string> bodies_;
    std::uint64_t tip_ = 0;
    std::map<std::string, std::uint64_t> releases_;
    std::unique_ptr<ServerThread> thread_;
};

class OutboxTest : public test::VendorFixture {
  protected:
    std::string ProvisionDevice(const std::string& id) {
        ProvisionOptions o;
        o.data_dir = data();
        o.device_id = id;
        o.product = "cam";
        o.hardware = "rev-a";
        o.out_dir = tmp_ / id;
        auto r = Provision(o);
        EXPECT_TRUE(r) << r.error().ToString();
        return r ? r->tx_id : "";
    }
    std::string Status(Catalog& cat, const std::string& tx_id) {
        auto row = cat.OutboxEntry(tx_id);
        EXPECT_TRUE(row && *row);
        return row && *row ? (*row)->status : "";
    }
};

TEST_F(OutboxTest, AcceptedDuplicateAndRejectedTxsLeaveThePendingQueue) {
    const std::string a = ProvisionDevice("d1");
    const std::string b = ProvisionDevice("d2");
    const std::string c = ProvisionDevice("d3");
    FakeLedger ledger;
    ledger.Script({200, 409, 403});
    auto cat = Catalog::Open(DataDir(data()).Catalog());
    ASSERT_TRUE(cat);
    auto report = SubmitOutbox(*cat, ledger.Url());
    ASSERT_TRUE(report) << report.error().ToString();
    EXPECT_EQ(2u, report->accepted);
    EXPECT_EQ(1u, report->rejected);
    EXPECT_EQ(0u, report->pending);
    EXPECT_EQ(3u, ledger.Received());
    EXPECT_EQ(outbox::kAccepted, Status(*cat, a));
    EXPECT_EQ(outbox::kAccepted, Status(*cat, b));
    EXPECT_EQ(outbox::kRejected, Status(*cat, c));
    auto row = cat->OutboxEntry(c);
    ASSERT_TRUE(row && *row);
    EXPECT_NE(std::string::npos, (*row)->reason.find("unauthorized"));

    // Nothing is sent twice, and a rejected tx is not retried forever.
    auto again = SubmitOutbox(*cat, ledger.Url());
    ASSERT_TRUE(again);
    EXPECT_EQ(0u, again->accepted + again->rejected);
    EXPECT_EQ(3u, ledger.Received());
}

TEST_F(OutboxTest, KeepsTxsWhenTheLedgerIsDownOrFailing) {
    const std::string a = ProvisionDevice("d1");
    auto cat = Catalog::Open(DataDir(data()).Catalog());
    ASSERT_TRUE(cat);
    const std::string nowhere = "http://127.0.0.1:" + std::to_string(fwchain::test::FreePort());
    auto down = SubmitOutbox(*cat, nowhere);
    ASSERT_TRUE(down) << down.error().ToString();
    EXPECT_EQ(1u, down->pending);
    EXPECT_FALSE(down->network_error.empty());
    EXPECT_EQ(outbox::kPending, Status(*cat, a));

    FakeLedger ledger;
    ledger.Script({503, 200});
    auto failing = SubmitOutbox(*cat, ledger.Url());
    ASSERT_TRUE(failing);
    EXPECT_EQ(1u, failing->pending);
    EXPECT_EQ(outbox::kPending, Status(*cat, a));
    auto ok = SubmitOutbox(*cat, ledger.Url());
    ASSERT_TRUE(ok);
    EXPECT_EQ(1u, ok->accepted);
    EXPECT_EQ(outbox::kAccepted, Status(*cat, a));
}

TEST_F(OutboxTest, PublishWithLedgerSubmitsTheReleaseTx) {
    FakeLedger ledger;
    auto opts = PublishOpts("v1.0.0");
    opts.ledger_url = ledger.Url();
    auto r = Publish(opts);
    ASSERT_TRUE(r) << r.error().ToString();
    ASSERT_TRUE(r->ledger);
    EXPECT_EQ(1u, r->ledger->accepted);
    EXPECT_EQ(1u, ledger.Received());
}

// The timestamp's ledger facts (docs/protocol.md "Ledger proofs for devices"): a checkpoint
// `margin` below the ledger tip, moved only every `interval` blocks, and the block of each named
// release once it is `margin` deep.
TEST_F(OutboxTest, MaintainerSignsTheLedgerCheckpointAndReleaseBlocks) {
    FakeLedger ledger;
    auto published = Publish(PublishOpts("v1.0.0"));
    ASSERT_TRUE(published) << published.error().ToString();
    auto m = Maintainer::Create(DataDir(data()), ledger.Url(), CheckpointPolicy{10, 20});
    ASSERT_TRUE(m) << m.error().ToString();
    auto ts = [&] {
        auto t = LoadTimestamp(DataDir(data()));
        EXPECT_TRUE(t && *t);
        return **t;
    };
    const std::int64_t now = ts().issued;
    ledger.SetTip(5);  // shorter than the margin: nothing to sign yet
    ASSERT_TRUE(m->Tick(now));
    EXPECT_FALSE(ts().checkpoint);
    const Timestamp first = ts();
    const ManifestEntry* entry = first.Manifest("cam", published->sequence);
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(entry->sha256, published->manifest_sha256);
    EXPECT_FALSE(entry->block);

    ledger.SetTip(100);
    ledger.AddRelease(published->manifest_sha256, 95);  // 6 confirmations: not deep enough
    ASSERT_TRUE(m->Tick(now));
    ASSERT_TRUE(ts().checkpoint);
    EXPECT_EQ(ts().checkpoint->height, 90u);
    EXPECT_EQ(ts().checkpoint->hash, FakeLedger::BlockHash(90));
    EXPECT_FALSE(ts().Manifest("cam", published->sequence)->block);

    const std::uint64_t version = ts().version;
    ledger.SetTip(
        105);  // the release has 11 confirmations; the checkpoint may not move (interval 20)
    ASSERT_TRUE(m->Tick(now));
    EXPECT_EQ(ts().version, version + 1);
    EXPECT_EQ(ts().checkpoint->height, 90u);
    ASSERT_TRUE(ts().Manifest("cam", published->sequence)->block);
    EXPECT_EQ(*ts().Manifest("cam", published->sequence)->block,
              (LedgerPoint{95, FakeLedger::BlockHash(95)}));
    ASSERT_TRUE(m->Tick(now));
    EXPECT_EQ(ts().version, version + 1) << "nothing new: no re-signing";

    ledger.SetTip(120);
    ASSERT_TRUE(m->Tick(now));
    EXPECT_EQ(ts().checkpoint->height, 110u);
    // A publish re-signs with what the last timestamp knew of the ledger.
    auto second = Publish(PublishOpts("v1.1.0"));
    ASSERT_TRUE(second) << second.error().ToString();
    EXPECT_EQ(ts().checkpoint->height, 110u);
    EXPECT_TRUE(ts().Manifest("cam", published->sequence)->block);
    EXPECT_FALSE(ts().Manifest("cam", second->sequence)->block);

    // Provisioning starts a device from the signed checkpoint.
    const std::string tx = ProvisionDevice("d9");
    ASSERT_FALSE(tx.empty());
    auto device = LoadJsonFile(tmp_ / "d9/device.json");
    ASSERT_TRUE(device);
    EXPECT_EQ((*device)["ledger_checkpoint"],
              (LedgerPoint{110, FakeLedger::BlockHash(110)}).ToJson());
}

TEST_F(OutboxTest, MaintainerResignsTheTimestampPastHalfItsLifetime) {
    auto m = Maintainer::Create(DataDir(data()), "");
    ASSERT_TRUE(m) << m.error().ToString();
    auto before = LoadTimestamp(DataDir(data()));
    ASSERT_TRUE(before && *before);
    const Timestamp ts0 = **before;

    ASSERT_TRUE(m->Tick(ts0.issued + 60));
    auto same = LoadTimestamp(DataDir(data()));
    ASSERT_TRUE(same && *same);
    EXPECT_EQ(ts0.version, (*same)->version) << "a fresh timestamp is left alone";

    const std::int64_t later = ts0.issued + (ts0.expires - ts0.issued) / 2 + 1;
    ASSERT_TRUE(m->Tick(later));
    auto after = LoadTimestamp(DataDir(data()));
    ASSERT_TRUE(after && *after);
    EXPECT_EQ(ts0.version + 1, (*after)->version);
    EXPECT_EQ(later, (*after)->issued);
    EXPECT_EQ(later + kDefaultTimestampLifetime, (*after)->expires);
    auto root = LatestRoot(DataDir(data()));
    ASSERT_TRUE(root);
    EXPECT_TRUE(VerifyTimestamp(*root, (*after)->envelope, later + 10, {ts0.version, ts0.issued}));
}

}  // namespace
}  // namespace fwchain::vendor
