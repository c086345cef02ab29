#include "common/core/metrics.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstring>

namespace fwchain::metrics {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
    assert(std::is_sorted(bounds_.begin(), bounds_.end()));
}

void Histogram::Observe(double v) {
    const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
    counts_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
    Snapshot s;
    s.cumulative.reserve(bounds_.size() + 1);
    std::uint64_t running = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        running += counts_[i].load(std::memory_order_relaxed);
        s.cumulative.push_back(running);
    }
    s.count = running;
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
}

std::vector<double> LatencyBuckets() {
    return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

namespace {

struct Series {
    std::string labels;  // rendered: k="v",k="v" (no braces)
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> fn;
};

// Label values escape backslash, double quote and newline (the exposition format's rules).
std::string RenderLabels(const Labels& labels) {
    std::string out;
    for (const auto& [k, v] : labels) {
        if (!out.empty()) out += ',';
        out += k;
        out += "=\"";
        for (char c : v) {
            if (c == '\\') {
                out += "\\\\";
            } else if (c == '"') {
                out += "\\\"";
            } else if (c == '\n') {
                out += "\\n";
            } else {
                out += c;
            }
        }
        out += '"';
    }
    return out;
}

void AppendNumber(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
    } else if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
    } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
        out += std::to_string(static_cast<long long>(v));
    } else {
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, v);
        out.append(buf, r.ptr);
    }
}

void AppendSample(std::string& out, const std::string& name, const std::string& labels, double v) {
    out += name;
    if (!labels.empty()) {
        out += '{';
        out += labels;
        out += '}';
    }
    out += ' ';
    AppendNumber(out, v);
    out += '\n';
}

[[maybe_unused]] bool ValidName(const std::string& name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
    });
}

}  // namespace

struct Registry::Family {
    std::string name;
    std::string help;
    const char* type = "";
    std::vector<Series> series;

    Series* Find(const std::string& labels) {
        for (auto& s : series) {
            if (s.labels == labels) return &s;
        }
        return nullptr;
    }
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Family& Registry::FamilyFor(const std::string& name, const std::string& help,
                                      const char* type) {
    assert(ValidName(name));
    for (auto& f : families_) {
        if (f->name == name) {
            assert(std::strcmp(f->type, type) == 0);
            return *f;
        }
    }
    auto f = std::make_unique<Family>();
    f->name = name;
    f->help = help;
    f->type = type;
    families_.push_back(std::move(f));
    return *families_.back();
}

namespace {
// The series of `f` with these labels held in `slot`, made by `make` on first use.
template <typename T, typename Make>
T& SeriesOf(Registry::Family& f, const Labels& labels, std::unique_ptr<T> Series::*slot,
            Make make) {
    const std::string l = RenderLabels(labels);
    if (Series* s = f.Find(l); s != nullptr && s->*slot) return *(s->*slot);
    Series s;
    s.labels = l;
    s.*slot = make();
    f.series.push_back(std::move(s));
    return *(f.series.back().*slot);
}
}  // namespace

Counter& Registry::GetCounter(const std::string& name, const std::string& help, Labels labels) {
    std::lock_guard lock(mu_);
    return SeriesOf(FamilyFor(name, help, "counter"), labels, &Series::counter,
                    [] { return std::make_unique<Counter>(); });
}

Gauge& Registry::GetGauge(const std::string& name, const std::string& help, Labels labels) {
    std::lock_guard lock(mu_);
    return SeriesOf(FamilyFor(name, help, "gauge"), labels, &Series::gauge,
                    [] { return std::make_unique<Gauge>(); });
}

Histogram& Registry::GetHistogram(const std::string& name, const std::string& help, Labels labels,
                                  std::vector<double> bounds) {
    std::lock_guard lock(mu_);
    return SeriesOf(FamilyFor(name, help, "histogram"), labels, &Series::histogram,
                    [&bounds] { return std::make_unique<Histogram>(std::move(bounds)); });
}

void Registry::AddCounterFn(const std::string& name, const std::string& help,
                            const Counter& counter, Labels labels) {
    AddCounterFn(
        name, help, [&counter] { return static_cast<double>(counter.Value()); }, std::move(labels));
}

void Registry::AddFn(const std::string& name, const std::string& help, const char* type,
                     std::function<double()> fn, const Labels& labels) {
    std::lock_guard lock(mu_);
    Series s;
    s.labels = RenderLabels(labels);
    s.fn = std::move(fn);
    FamilyFor(name, help, type).series.push_back(std::move(s));
}

void Registry::AddGaugeFn(const std::string& name, const std::string& help,
                          std::function<double()> fn, Labels labels) {
    AddFn(name, help, "gauge", std::move(fn), labels);
}

void Registry::AddCounterFn(const std::string& name, const std::string& help,
                            std::function<double()> fn, Labels labels) {
    AddFn(name, help, "counter", std::move(fn), labels);
}

std::string Registry::Render() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& f : families_) {
        out += "# HELP " + f->name + ' ';
        for (char c : f->help) out += c == '\n' ? ' ' : c;
        out += "\n# TYPE " + f->name + ' ' + f->type + '\n';
        for (const auto& s : f->series) {
            if (s.counter) {
                AppendSample(out, f->name, s.labels, static_cast<double>(s.counter->Value()));
            } else if (s.gauge) {
                AppendSample(out, f->name, s.labels, s.gauge->Value());
            } else if (s.fn) {
                AppendSample(out, f->name, s.labels, s.fn());
            } else if (s.histogram) {
                const auto snap = s.histogram->Read();
                const auto& bounds = s.histogram->bounds();
                const std::string sep = s.labels.empty() ? "" : ",";
                for (std::size_t i = 0; i <= bounds.size(); ++i) {
                    std::string le = "le=\"";
                    if (i == bounds.size()) {
                        le += "+Inf";
                    } else {
                        AppendNumber(le, bounds[i]);
                    }
                    le += '"';
                    AppendSample(out, f->name + "_bucket", s.labels + sep + le,
                                 static_cast<double>(snap.cumulative[i]));
                }
                AppendSample(out, f->name + "_sum", s.labels, snap.sum);
                AppendSample(out, f->name + "_count", s.labels, static_cast<double>(snap.count));
            }
        }
    }
    return out;
}

}  // namespace fwchain::metrics
