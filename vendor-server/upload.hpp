#pragma once
// `vendor-server publish --server URL --token T`: CI reads the tag and the image on its side
// (libgit2) and uploads both to a running server's admin API (POST /v1/admin/releases,
// multipart: `meta` JSON + `image`), which signs and records the release. The release key never
// leaves the server.
#include <cstdint>
#include <functional>
#include <string>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"
#include "vendor-server/publish.hpp"

namespace fwchain::vendor {

struct UploadOptions {
    std::string server_url;  // http(s)://host:port
    std::string token;       // bearer token
    std::string ca_cert;     // PEM file to verify an https server (default: system CAs)
    // Called as the upload's parts go out: bytes sent of the total (meta and image).
    std::function<void(std::uint64_t sent, std::uint64_t total)> progress;
};

// "uploading 12.0 MiB of 48.0 MiB (25%)": one line of upload progress.
std::string FormatUploadProgress(std::uint64_t sent, std::uint64_t total);

// A progress callback that redraws one line on stderr (carriage return, at most once per whole
// percent) and ends it when the upload is complete. Meant for a terminal: the caller decides.
std::function<void(std::uint64_t, std::uint64_t)> StderrUploadProgress();

// Returns the server's answer (the PublishResult JSON). opts.data_dir is not used.
Expected<Json> PublishToServer(const PublishOptions& opts, const UploadOptions& up);

}  // namespace fwchain::vendor
