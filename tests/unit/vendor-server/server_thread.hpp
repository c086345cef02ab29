#pragma once
// An in-process ApiServer on a loopback port, run on its own thread for the test's lifetime.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "tests/support/process.hpp"
#include "vendor-server/http_api.hpp"

namespace fwchain::vendor::test {

class RunningApi {
  public:
    // The server's default limits, as `serve` runs it.
    static std::unique_ptr<RunningApi> Start(const std::string& data_dir, ApiConfig cfg = {}) {
        http::ServerOptions opts;
        auto api = ApiServer::Create(DataDir(data_dir), opts, std::move(cfg));
        EXPECT_TRUE(api) << api.error().ToString();
        if (!api) return nullptr;
        auto port = (*api)->Bind("127.0.0.1", 0);
        EXPECT_TRUE(port) << port.error().ToString();
        if (!port) return nullptr;
        return std::unique_ptr<RunningApi>(new RunningApi(std::move(*api), *port));
    }
    ~RunningApi() {
        api_->Stop();
        thread_.join();
    }
    ApiServer& api() { return *api_; }
    int port() const { return port_; }
    std::string url() const { return api_->public_url(); }

  private:
    RunningApi(std::unique_ptr<ApiServer> api, int port) : api_(std::move(api)), port_(port) {
        thread_ = std::thread([this] {
            api_->Run();
            done_ = true;
        });
    }
    std::unique_ptr<ApiServer> api_;
    int port_;
    std::atomic<bool> done_{false};
    std::thread thread_;
};

}  // namespace fwchain::vendor::test
