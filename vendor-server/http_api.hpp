#pragma once
// The vendor server's public HTTP API (docs/protocol.md "Vendor server HTTP API"). Every request
// reads the catalog and the metadata files afresh, so releases published by a concurrent
// `vendor-server publish` are visible as soon as its catalog transaction commits.
#include <memory>
#include <mutex>
#include <string>

#include "common/adapters/http.hpp"
#include "vendor-server/catalog.hpp"
#include "vendor-server/data_dir.hpp"

namespace fwchain::vendor {

class ApiServer {
  public:
    // Opens its own catalog connection (handlers share it under a mutex).
    static Expected<std::unique_ptr<ApiServer>> Create(const DataDir& dir,
                                                       const http::ServerOptions& opts = {});

    // Binds host:port (0 = any free port) and returns the bound port.
    Expected<int> Bind(const std::string& host, int port);
    // Serves until Stop(); call after Bind, typically on its own thread. False when the accept
    // loop failed rather than being stopped.
    bool Run();
    // Safe from any thread; makes Run return.
    void Stop();
    httplib::Server& Raw() { return *server_; }

  private:
    ApiServer(DataDir dir, Catalog catalog, std::unique_ptr<httplib::Server> server);
    void Routes();
    void GetRoots(const httplib::Request& req, httplib::Response& res);
    void GetTimestamp(const httplib::Request& req, httplib::Response& res);
    void GetManifests(const httplib::Request& req, httplib::Response& res);
    void GetImage(const httplib::Request& req, httplib::Response& res);

    DataDir dir_;
    std::mutex catalog_mu_;
    Catalog catalog_;
    std::unique_ptr<httplib::Server> server_;
};

}  // namespace fwchain::vendor
