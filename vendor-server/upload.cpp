#include "vendor-server/upload.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>

#include "common/adapters/http.hpp"
#include "common/core/fs.hpp"
#include "vendor-server/git_source.hpp"

namespace fwchain::vendor {

std::string FormatUploadProgress(std::uint64_t sent, std::uint64_t total) {
    constexpr double kMiB = 1024.0 * 1024.0;
    const unsigned percent =
        total == 0 ? 100u : static_cast<unsigned>(std::min(sent, total) * 100 / total);
    char line[96];
    std::snprintf(line, sizeof line, "uploading %.1f MiB of %.1f MiB (%u%%)",
                  static_cast<double>(sent) / kMiB, static_cast<double>(total) / kMiB, percent);
    return line;
}

std::function<void(std::uint64_t, std::uint64_t)> StderrUploadProgress() {
    auto last = std::make_shared<int>(-1);
    return [last](std::uint64_t sent, std::uint64_t total) {
        const int percent =
            total == 0 ? 100 : static_cast<int>(std::min(sent, total) * 100 / total);
        if (percent == *last) return;
        *last = percent;
        std::fprintf(stderr, "\r%s%s", FormatUploadProgress(sent, total).c_str(),
                     sent >= total ? "\n" : "");
        std::fflush(stderr);
    };
}

Expected<Json> PublishToServer(const PublishOptions& opts, const UploadOptions& up) {
    FW_TRY(CheckReleaseOptions(opts));
    if (up.token.empty()) return Fail(Errc::kInvalid, "no-token", "--token is required");
    FW_ASSIGN(auto url, http::ParseUrl(up.server_url));
    FW_ASSIGN(auto tag, ReadTag(opts.repo, opts.tag));
    if (!tag.annotated && !opts.allow_lightweight) {
        return Fail(Errc::kInvalid, "lightweight-tag",
                    "tag " + opts.tag +
                        " is lightweight (no tagger, no notes); use an annotated tag or "
                        "--allow-lightweight");
    }
    Json meta = {{"product", opts.product},
                 {"hardware", opts.hardware},
                 {"tag", tag.tag},
                 {"commit", tag.commit},
                 {"repo", tag.repo},
                 {"tagger", tag.tagger},
                 {"notes", tag.notes},
                 {"annotated", tag.annotated},
                 {"allow_lightweight", opts.allow_lightweight},
                 {"expires_days", opts.expires_days}};
    if (!opts.version.empty()) meta["version"] = opts.version;
    if (opts.rollout) meta["rollout"] = opts.rollout->ToJson();
    if (opts.min_approvals != 0) meta["min_approvals"] = opts.min_approvals;

    std::vector<http::FormPart> parts;
    const ImageRef ref = ParseImageRef(opts.image);
    meta["image_name"] = ref.name;
    parts.push_back({"meta", meta.dump(), "", "", "application/json"});
    if (ref.in_tree) {
        FW_ASSIGN(std::string tree_bytes, ReadTreeFile(opts.repo, opts.tag, ref.path));
        parts.push_back({"image", std::move(tree_bytes), "", ref.name, "application/octet-stream"});
    } else {
        if (!opts.allow_dirty) FW_TRY(CheckWorkTreeClean(opts.repo, ref.path));
        if (!FileExists(ref.path)) {
            return Fail(Errc::kNotFound, "no-image", "cannot read image " + ref.path);
        }
        // Streamed from disk (chunked): CI runners need not hold the image in memory.
        parts.push_back({"image", "", ref.path, ref.name, "application/octet-stream"});
    }

    http::ClientOptions copts;
    copts.connect_timeout_s = 10;
    copts.read_timeout_s = 300;  // the server hashes, signs and makes the torrent
    copts.write_timeout_s = 300;
    copts.ca_cert_path = up.ca_cert;
    http::Client cli(url, copts);
    const http::Headers headers = {{"Authorization", "Bearer " + up.token}};
    // Token first: a refused upload would be cut off mid-body.
    auto res = cli.Send("GET", "/v1/admin/auth", nullptr, headers, 1 << 20);
    if (res && res->status == 200) {
        res = cli.PostForm("/v1/admin/releases", headers, parts, 1 << 20, up.progress);
    }
    if (!res) {
        return Fail(Errc::kNetwork, "upload-failed",
                    "cannot reach " + up.server_url + ": " + res.error().message);
    }
    auto body = ParseJson(res->body, 1 << 20);
    if (res->status != 200) {
        std::string reason = "http-" + std::to_string(res->status);
        std::string message = "the server answered " + std::to_string(res->status);
        if (body && body->is_object()) {
            if (body->contains("error") && (*body)["error"].is_string()) {
                reason = (*body)["error"].get<std::string>();
            }
            if (body->contains("message") && (*body)["message"].is_string()) {
                message = (*body)["message"].get<std::string>();
            }
        }
        const Errc code = res->status == 401 || res->status == 403 ? Errc::kUnauthorized
                          : res->status == 413                     ? Errc::kTooLarge
                          : res->status == 409                     ? Errc::kConflict
                          : res->status == 404                     ? Errc::kNotFound
                          : res->status >= 500                     ? Errc::kNetwork
                                                                   : Errc::kInvalid;
        return Fail(code, reason, message);
    }
    if (!body) return Fail(Errc::kNetwork, "bad-answer", "the server's answer is not JSON");
    return *body;
}

}  // namespace fwchain::vendor
