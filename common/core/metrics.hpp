#pragma once
// Prometheus metrics in the text exposition format (version 0.0.4), without a client library:
// counters, gauges and histograms updated with relaxed atomics on hot paths, values sampled
// from callbacks at scrape time, and one registry per process that renders them all.
//
// Names follow Prometheus conventions: `fwchain_<program>_<what>_<unit>`, `_total` for
// counters. docs/metrics.md lists every metric.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace fwchain::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
  public:
    void Inc(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t Value() const { return v_.load(std::memory_order_relaxed); }

  private:
    std::atomic<std::uint64_t> v_{0};
};

class Gauge {
  public:
    void Set(double v) { v_.store(v, std::memory_order_relaxed); }
    void Add(double d) { v_.fetch_add(d, std::memory_order_relaxed); }
    double Value() const { return v_.load(std::memory_order_relaxed); }

  private:
    std::atomic<double> v_{0};
};

class Histogram {
  public:
    // `bounds`: the upper bounds of the buckets, ascending; +Inf is implied.
    explicit Histogram(std::vector<double> bounds);
    void Observe(double v);
    const std::vector<double>& bounds() const { return bounds_; }
    // Cumulative counts per bound (then +Inf), the sum and the count, read together.
    struct Snapshot {
        std::vector<std::uint64_t> cumulative;
        double sum = 0;
        std::uint64_t count = 0;
    };
    Snapshot Read() const;

  private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, +Inf last
    std::atomic<double> sum_{0};
};

// Seconds: 0.5 ms to 10 s, for request latencies and validation times.
std::vector<double> LatencyBuckets();

class Registry {
  public:
    Registry();
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // The metric with this name and labels, created on first use. References stay valid for the
    // registry's life. A name is one type; asking for it as another is a programming error.
    Counter& GetCounter(const std::string& name, const std::string& help, Labels labels = {});
    Gauge& GetGauge(const std::string& name, const std::string& help, Labels labels = {});
    Histogram& GetHistogram(const std::string& name, const std::string& help, Labels labels = {},
                            std::vector<double> bounds = LatencyBuckets());
    // A value read at scrape time (chain height, cache size, a library's own counter). The
    // callback must not use the registry; it may take the owner's locks.
    void AddGaugeFn(const std::string& name, const std::string& help, std::function<double()> fn,
                    Labels labels = {});
    void AddCounterFn(const std::string& name, const std::string& help, std::function<double()> fn,
                      Labels labels = {});
    // A counter owned elsewhere (it must outlive every scrape), exported under `name`.
    void AddCounterFn(const std::string& name, const std::string& help, const Counter& counter,
                      Labels labels = {});

    // Every metric, in registration order, as text exposition format.
    std::string Render() const;

    struct Family;

  private:
    Family& FamilyFor(const std::string& name, const std::string& help, const char* type);
    void AddFn(const std::string& name, const std::string& help, const char* type,
               std::function<double()> fn, const Labels& labels);
    mutable std::mutex mu_;
    std::vector<std::unique_ptr<Family>> families_;
};

// The content type of Render()'s output.
inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace fwchain::metrics
