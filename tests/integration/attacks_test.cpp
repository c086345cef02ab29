// DESIGN.md §3 attacks through a malicious gateway: a real fwchain deployment, and in front of
// its gateway an in-process relay that alters what the device receives. The device must refuse
// with a clear reason, stay on its version, and its signed `failed` report must reach the ledger.
#include <gtest/gtest.h>

#include <functional>
#include <mutex>
#include <thread>

#include "common/core/envelope.hpp"
#include "common/core/fs.hpp"
#include "tests/integration/system.hpp"
#include "tests/support/fake_server.hpp"

namespace fwchain::test {
namespace {

// Relays device requests to an honest gateway, rewriting check answers and image bytes.
class EvilGateway {
  public:
    using CheckRewrite = std::function<void(Json&)>;
    using ImageRewrite = std::function<void(std::string&)>;

    EvilGateway(std::string upstream, CheckRewrite check, ImageRewrite image)
        : upstream_(std::move(upstream)),
          check_(std::move(check)),
          image_(std::move(image)),
          server_(http::MakeFakeServer()) {
        server_->Post("/v1/check", [this](const httplib::Request& req, httplib::Response& res) {
            auto client = http::Client::For(upstream_);
            auto answer = client->PostText("/v1/check", req.body);
            if (!answer) return http::SendError(res, answer.error());
            check_(*answer);
            http::SendJson(res, *answer);
        });
        server_->Get("/v1/images/([0-9a-f]{64})",
                     [this](const httplib::Request& req, httplib::Response& res) {
                         auto client = http::Client::For(upstream_);
                         auto bytes = client->GetText(req.path, 64 << 20);
                         if (!bytes) return http::SendError(res, bytes.error());
                         image_(*bytes);
                         res.set_content(*bytes, "application/octet-stream");
                     });
        server_->Post("/v1/report", [this](const httplib::Request& req, httplib::Response& res) {
            auto client = http::Client::For(upstream_);
            auto answer = client->PostText("/v1/report", req.body);
            if (!answer) return http::SendError(res, answer.error());
            http::SendJson(res, *answer, 202);
        });
        port_ = *http::Bind(*server_, "127.0.0.1", 0);
        thread_ = std::thread([this] { server_->listen_after_bind(); });
    }
    ~EvilGateway() {
        server_->stop();
        thread_.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  private:
    std::string upstream_;
    CheckRewrite check_;
    ImageRewrite image_;
    std::unique_ptr<httplib::Server> server_;
    int port_ = 0;
    std::thread thread_;
};

void NoCheckChange(Json&) {}
void NoImageChange(std::string&) {}

class Attacks : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        sys_ = new System();
        sys_->Tag("v1.0.0", "First release");
        sys_->Tag("v1.1.0", "Night mode");
        sys_->Tag("v2.0.0", "Doorbell firmware");
        sys_->Start(1);
        // A device that has seen the ledger admit it, before anything is published.
        for (const auto& [tag, product] : std::vector<std::pair<std::string, std::string>>{
                 {"v1.0.0", "cam"}, {"v1.1.0", "cam"}, {"v2.0.0", "doorbell"}}) {
            auto r = sys_->Publish(tag, product);
            ASSERT_EQ(r.exit_code, 0) << r.err;
        }
        // The honest gateway offers cam 1.1.0 once its release has its confirmations.
        auto client = http::Client::For(sys_->gateway_url());
        ASSERT_TRUE(WaitFor(
            [&] {
                auto a = client->PostJson("/v1/check", Json{{"device_id", "probe"},
                                                            {"product", "cam"},
                                                            {"hardware", "rev-b"},
                                                            {"sequence", 1},
                                                            {"root_version", 1}});
                return a && (*a)["manifest"].is_object();
            },
            std::chrono::seconds(120)));
    }
    static void TearDownTestSuite() {
        delete sys_;
        sys_ = nullptr;
    }

    static Json VendorManifest(const std::string& product, std::uint64_t sequence) {
        auto client = http::Client::For(sys_->vendor_url());
        auto j =
            client->GetJson("/v1/manifests/" + product + "?since=" + std::to_string(sequence - 1));
        return (*j)["manifests"][0];
    }

    // Boots through `evil` and checks the refusal end to end.
    void ExpectRefused(const std::string& id, const std::string& dir, EvilGateway& evil,
                       const std::string& reason, const std::string& version_before) {
        auto r = sys_->Boot(dir, evil.url());
        EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
        EXPECT_NE(r.err.find(reason), std::string::npos) << "stderr: " << r.err;
        EXPECT_EQ(sys_->Version(dir), version_before);
        if (!sys_->WaitForLedger("device=" + id + "&type=update&state=failed", 1)) {
            const std::string log = sys_->gateway().Log();
            FAIL() << "no failed report of " << id << " on the ledger; device "
                   << sys_->Status(dir).dump() << "\nboot stderr: " << r.err
                   << "\ngateway log (end): "
                   << log.substr(log.size() > 3000 ? log.size() - 3000 : 0);
        }
        Json failed = sys_->Search("device=" + id + "&type=update&state=failed");
        EXPECT_EQ(failed[0]["tx"]["body"].value("reason", ""), reason);
    }

    static System* sys_;
};
System* Attacks::sys_ = nullptr;

TEST_F(Attacks, TamperedImageIsRefused) {
    const std::string dir = sys_->Provision("tamper-1");
    EvilGateway evil(sys_->gateway_url(), NoCheckChange, [](std::string& bytes) {
        bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
    });
    ExpectRefused("tamper-1", dir, evil, "hash-mismatch", "0.0.0");
}

TEST_F(Attacks, ManifestSignedByUnknownKeyIsRefused) {
    const std::string dir = sys_->Provision("forged-1");
    SigningKey attacker = SigningKey::Generate();
    EvilGateway evil(
        sys_->gateway_url(),
        [&](Json& answer) {
            auto env = ParseEnvelope(answer["manifest"]);
            ASSERT_TRUE(env);
            env->signed_doc["image"]["name"] = "backdoor.bin";
            answer["manifest"] = SignDocument(env->signed_doc, {&attacker}).ToJson();
        },
        NoImageChange);
    ExpectRefused("forged-1", dir, evil, "bad-signature", "0.0.0");
}

TEST_F(Attacks, LowerSequenceIsRefused) {
    const std::string dir = sys_->Provision("rollback-1");
    ASSERT_TRUE(sys_->BootUntil(dir, sys_->gateway_url(), "1.1.0"));
    Json old_manifest = VendorManifest("cam", 1);  // v1.0.0, validly signed
    EvilGateway evil(
        sys_->gateway_url(), [&](Json& answer) { answer["manifest"] = old_manifest; },
        NoImageChange);
    ExpectRefused("rollback-1", dir, evil, "rollback", "1.1.0");
    // The failed report names the version the device runs; the refused manifest's claims stay in
    // body.rejected, so the ledger never lists 1.0.0 as failing on this device.
    Json failed = sys_->Search("device=rollback-1&type=update&state=failed");
    ASSERT_FALSE(failed.empty());
    EXPECT_EQ(failed[0]["tx"].value("ver", ""), "1.1.0") << failed[0].dump();
    EXPECT_EQ(failed[0]["tx"]["body"]["rejected"].value("version", ""), "1.0.0")
        << failed[0].dump();
}

TEST_F(Attacks, WrongProductIsRefused) {
    const std::string dir = sys_->Provision("product-1");
    Json doorbell = VendorManifest("doorbell", 1);  // validly signed, for another product
    EvilGateway evil(
        sys_->gateway_url(), [&](Json& answer) { answer["manifest"] = doorbell; }, NoImageChange);
    ExpectRefused("product-1", dir, evil, "wrong-product", "0.0.0");
}

}  // namespace
}  // namespace fwchain::test
