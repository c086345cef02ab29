// The admin upload API (POST /v1/admin/releases) and `publish --server`: CI reads the tag, the
// server signs. Wrong tokens, oversized uploads and plain-HTTP/HTTPS are each exercised on a
// real loopback server.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "common/core/metadata.hpp"
#include "tests/unit/vendor-server/fixture.hpp"
#include "tests/unit/vendor-server/server_thread.hpp"
#include "vendor-server/catalog.hpp"
#include "vendor-server/data_dir.hpp"
#include "vendor-server/metadata_store.hpp"
#include "vendor-server/serve.hpp"
#include "vendor-server/upload.hpp"

namespace fwchain::vendor {
namespace {

namespace fs = std::filesystem;

constexpr const char* kToken = "ci-token-0123456789abcdef";

class AdminTest : public test::VendorFixture {
  protected:
    std::unique_ptr<test::RunningApi> Start(ApiConfig cfg = {}) {
        if (cfg.admin_token.empty()) cfg.admin_token = kToken;
        return test::RunningApi::Start(data(), std::move(cfg));
    }
    UploadOptions Up(const test::RunningApi& server, std::string token = kToken) {
        return UploadOptions{server.url(), std::move(token), "", {}};
    }
    void ExpectNothingPublished() {
        const DataDir dir(data());
        EXPECT_EQ(0u, CountFilesUnder(dir.Root() + "/manifests"));
        EXPECT_EQ(0u, CountFilesUnder(dir.ImagesDir()));
        EXPECT_EQ(0u, CountFilesUnder(dir.Root() + "/uploads")) << "upload temp files must go";
        auto cat = Catalog::Open(dir.Catalog());
        ASSERT_TRUE(cat);
        EXPECT_TRUE(cat->PendingOutbox()->empty());
    }
};

TEST_F(AdminTest, PublishToServerUploadsTheTaggedImageAndTheServerSignsIt) {
    auto server = Start();
    ASSERT_TRUE(server);
    auto opts = PublishOpts("v1.0.0");
    opts.data_dir.clear();  // CI has no vendor data dir
    opts.rollout = Rollout{{{10, 1700000000}, {100, 1700086400}}, 0, 0};
    auto r = PublishToServer(opts, Up(*server));
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ("cam", (*r)["product"]);
    EXPECT_EQ(1u, (*r)["sequence"].get<std::uint64_t>());
    EXPECT_EQ(Sha256Hex("firmware one"), (*r)["sha256"]);

    // A file image is streamed (chunked) from disk.
    const std::string big(300 * 1024, 'z');
    test::WriteText(tmp_ / "fw-1.1.0.bin", big);
    auto file_opts = PublishOpts("v1.1.0");
    file_opts.image = tmp_ / "fw-1.1.0.bin";
    auto r2 = PublishToServer(file_opts, Up(*server));
    ASSERT_TRUE(r2) << r2.error().ToString();
    EXPECT_EQ(Sha256Hex(big), (*r2)["sha256"]);

    // The manifest is the server's, signed by its release key, with CI's Git source.
    const DataDir dir(data());
    auto root = VerifyInitialRoot(*LoadRootEnvelope(dir, 1), NowSeconds());
    ASSERT_TRUE(root);
    auto ts = LoadTimestamp(dir);
    ASSERT_TRUE(ts && *ts);
    auto text = ReadFile(dir.ManifestFile("cam", 2));
    ASSERT_TRUE(text);
    auto env = ParseEnvelope(*text);
    ASSERT_TRUE(env);
    DeviceMatch dev{"acme", "cam", "rev-a", 1, 0};
    auto rel = VerifyRelease(*root, *env, NowSeconds(), dev, **ts);
    ASSERT_TRUE(rel) << rel.error().ToString();
    EXPECT_EQ("fw-1.1.0.bin", env->signed_doc["image"]["name"]);
    EXPECT_EQ(commit2_, env->signed_doc["source"]["commit"]);
    EXPECT_EQ("v1.1.0", env->signed_doc["source"]["tag"]);
    EXPECT_EQ("Release Bot <ci@example.com>", env->signed_doc["source"]["tagger"]);
    auto m1 = ParseEnvelope(*ReadFile(dir.ManifestFile("cam", 1)));
    EXPECT_EQ(10, m1->signed_doc["rollout"]["stages"][0]["percent"]);
    EXPECT_EQ(1700086400, m1->signed_doc["rollout"]["stages"][1]["start"]);
    EXPECT_EQ(0u, CountFilesUnder(dir.Root() + "/uploads"));

    // The same tag again is refused by the server with its reason.
    auto again = PublishToServer(opts, Up(*server));
    ASSERT_FALSE(again);
    EXPECT_EQ("already-published", again.error().reason);
}

TEST_F(AdminTest, AWrongOrMissingTokenIsRefusedAndNothingIsWritten) {
    auto server = Start();
    ASSERT_TRUE(server);
    auto wrong = PublishToServer(PublishOpts("v1.0.0"), Up(*server, "ci-token-0123456789abcdeX"));
    ASSERT_FALSE(wrong);
    EXPECT_EQ("unauthorized", wrong.error().reason);
    EXPECT_EQ(Errc::kUnauthorized, wrong.error().code);

    httplib::Client cli("127.0.0.1", server->port());
    auto none = cli.Post("/v1/admin/releases", "x", "application/octet-stream");
    ASSERT_TRUE(none);
    EXPECT_EQ(401, none->status);
    EXPECT_EQ("Bearer", none->get_header_value("WWW-Authenticate"));
    httplib::Headers basic = {{"Authorization", std::string("Basic ") + kToken}};
    auto other_scheme = cli.Post("/v1/admin/releases", basic, "x", "application/octet-stream");
    ASSERT_TRUE(other_scheme);
    EXPECT_EQ(401, other_scheme->status);
    ExpectNothingPublished();

    // Without a configured token the admin API does not exist.
    ApiConfig off;
    off.admin_token = "";
    auto plain = test::RunningApi::Start(data(), off);
    ASSERT_TRUE(plain);
    auto disabled = PublishToServer(PublishOpts("v1.0.0"), Up(*plain));
    ASSERT_FALSE(disabled);
    EXPECT_EQ("admin-disabled", disabled.error().reason);
    ExpectNothingPublished();
}

TEST_F(AdminTest, AnOversizedUploadGets413AndLeavesNothing) {
    const DataDir dir(data());
    auto cfg = VendorConfig::Load(dir);
    ASSERT_TRUE(cfg);
    cfg->max_image_size = 64 * 1024;
    ASSERT_TRUE(WriteFileAtomic(dir.Config(), cfg->ToJson().dump(2)));
    auto server = Start();
    ASSERT_TRUE(server);
    test::WriteText(tmp_ / "huge.bin", std::string(100 * 1024, 'h'));
    auto opts = PublishOpts("v1.0.0");
    opts.image = tmp_ / "huge.bin";
    auto r = PublishToServer(opts, Up(*server));
    ASSERT_FALSE(r);
    EXPECT_EQ("image-too-large", r.error().reason);
    EXPECT_EQ(Errc::kTooLarge, r.error().code);
    ExpectNothingPublished();
    // Malformed uploads: not multipart, bad meta.
    httplib::Client cli("127.0.0.1", server->port());
    httplib::Headers auth = {{"Authorization", std::string("Bearer ") + kToken}};
    auto raw = cli.Post("/v1/admin/releases", auth, "abc", "application/octet-stream");
    ASSERT_TRUE(raw);
    EXPECT_EQ(400, raw->status);
    httplib::MultipartFormDataItems items = {{"meta", "{\"product\":1}", "", "application/json"},
                                             {"image", "bytes", "fw.bin", ""}};
    auto bad_meta = cli.Post("/v1/admin/releases", auth, items);
    ASSERT_TRUE(bad_meta);
    EXPECT_EQ(400, bad_meta->status) << bad_meta->body;
    ExpectNothingPublished();
}

TEST_F(AdminTest, HttpsWithAConfiguredCertificate) {
    const std::string cert = tmp_ / "cert.pem";
    const std::string key = tmp_ / "key.pem";
    const std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " +
        key + " -out " + cert + " >/dev/null 2>&1";
    ASSERT_EQ(0, std::system(cmd.c_str()));
    ApiConfig cfg;
    cfg.tls_cert = cert;
    cfg.tls_key = key;
    auto server = Start(cfg);
    ASSERT_TRUE(server);
    EXPECT_EQ(0u, server->url().rfind("https://127.0.0.1:", 0)) << server->url();

    // An unknown CA is refused by the client; the configured one is trusted.
    auto untrusted = PublishToServer(PublishOpts("v1.0.0"), Up(*server));
    ASSERT_FALSE(untrusted);
    EXPECT_EQ("upload-failed", untrusted.error().reason);
    auto up = Up(*server);
    up.ca_cert = cert;
    auto r = PublishToServer(PublishOpts("v1.0.0"), up);
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(1u, (*r)["sequence"].get<std::uint64_t>());

    ApiConfig half;
    half.tls_cert = cert;
    EXPECT_FALSE(ApiServer::Create(DataDir(data()), {}, half));
    ApiConfig missing;
    missing.tls_cert = tmp_ / "nope.pem";
    missing.tls_key = key;
    auto bad = ApiServer::Create(DataDir(data()), {}, missing);
    ASSERT_FALSE(bad);
    EXPECT_EQ("bad-tls", bad.error().reason);
}

TEST(AdminToken, ConstantTimeCompareAndPrivateTokenFiles) {
    EXPECT_TRUE(TokenMatches("secret-token-123456", "secret-token-123456"));
    EXPECT_FALSE(TokenMatches("secret-token-123457", "secret-token-123456"));
    EXPECT_FALSE(TokenMatches("secret-token-12345", "secret-token-123456"));
    EXPECT_FALSE(TokenMatches("", ""));  // no token configured never matches

    fwchain::test::TempDir tmp;
    const std::string file = tmp / "token";
    ASSERT_TRUE(WriteFileAtomic(file, "0123456789abcdef-token\n", 0600));
    auto ok = LoadAdminToken(file);
    ASSERT_TRUE(ok) << ok.error().ToString();
    EXPECT_EQ("0123456789abcdef-token", *ok);
    ASSERT_EQ(0, ::chmod(file.c_str(), 0644));
    auto loose = LoadAdminToken(file);
    ASSERT_FALSE(loose);
    EXPECT_EQ("token-file-mode", loose.error().reason);
    ASSERT_TRUE(WriteFileAtomic(tmp / "short", "abc", 0600));
    auto weak = LoadAdminToken(tmp / "short");
    ASSERT_FALSE(weak);
    EXPECT_EQ("weak-token", weak.error().reason);
}

}  // namespace
}  // namespace fwchain::vendor
