// apd/1 JSON: round trip, determinism, and every malformed case named.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <fstream>
#include <limits>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "apd/core/error.hpp"
#include "apd/io/apd_json.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/io/graphml.hpp"
#include "apd/io/output.hpp"
#include "naive_apd.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

apd::Diagram sample(std::size_t n = 300, std::size_t width = 40) {
  const std::vector<std::size_t> widths = {width, width, 5};
  const auto r = apd::test::random_instances(n, widths, 10, 99);
  json meta = {{"epoch", 10}, {"selection", {{"split", "train"}, {"labels", {1}}}}};
  return apd::build_diagram(apd::test::store_of(r.patterns, widths), r.labels32, r.predicted32, r.indices, meta);
}

// Applies `edit` to the JSON of a small valid APD and returns the reader's message.
std::string error_after(const std::function<void(json&)>& edit) {
  json doc = json::parse(apd::to_apd_json(sample(40, 4)));
  edit(doc);
  try {
    (void)apd::parse_apd_json(doc.dump(), "f.json");
  } catch (const apd::Error& e) {
    return e.what();
  }
  return "accepted";
}

}  // namespace

TEST_CASE("an APD written and read back is identical", "[json]") {
  for (const std::size_t width : {1U, 40U, 65U, 300U}) {
    CAPTURE(width);
    const auto d = sample(500, width);
    const auto text = apd::to_apd_json(d);
    const auto back = apd::parse_apd_json(text, "mem");
    CHECK(back == d);
    CHECK(apd::to_apd_json(back) == text);
  }
}

TEST_CASE("writing is deterministic and carries the networkx node-link shape", "[json]") {
  const auto text = apd::to_apd_json(sample());
  CHECK(apd::to_apd_json(sample()) == text);
  const json doc = json::parse(text);
  CHECK(doc["schema"] == "apd/1");
  CHECK(doc["directed"] == true);
  CHECK(doc["multigraph"] == false);
  CHECK(doc["graph"]["schema"] == "apd/1");
  CHECK(doc["graph"]["epoch"] == 10);
  CHECK(doc["graph"]["selection"]["split"] == "train");
  CHECK(doc["graph"]["widths"] == json::array({40, 40, 5}));
  CHECK(doc["graph"]["instances"] == 300);
  CHECK(doc["nodes"][0]["id"] == "l1n0");
  CHECK(doc["nodes"][0]["kind"] == "pattern");
  CHECK(doc["nodes"][0]["pattern"].get<std::string>().size() == 40);
  CHECK(doc["links"][0].contains("source"));
  CHECK(doc["instances"].size() == 300);
  CHECK(doc["instances"][0]["index"] == 1000);
  CHECK(doc["instances"][0]["path"].size() == 3);
}

TEST_CASE("without instances the file omits them and reads back without them", "[json]") {
  const auto d = sample();
  const auto text = apd::to_apd_json(d, {.instances = false});
  CHECK(!json::parse(text).contains("instances"));
  const auto back = apd::parse_apd_json(text, "mem");
  CHECK(!back.has_instances);
  CHECK(back.nodes == d.nodes);
  CHECK(back.links == d.links);
}

TEST_CASE("malformed APD files are refused with the offending field named", "[json]") {
  CHECK(error_after([](json&) {}) == "accepted");
  CHECK(error_after([](json& d) { d.erase("schema"); }) ==
        "f.json: not an APD file (no \"schema\" string; apd files carry \"schema\": \"apd/1\")");
  CHECK(error_after([](json& d) { d["schema"] = "apd/3"; }) ==
        "f.json: schema \"apd/3\" is not understood (this apd reads: apd/1, apd/2)");
  CHECK(error_after([](json& d) { d["schema"] = "apd/2"; }) == "accepted");  // apd/1 is valid apd/2
  CHECK(error_after([](json& d) { d["nodes"][2].erase("count"); }) == "f.json: nodes[2]: missing field \"count\"");
  CHECK(error_after([](json& d) { d["nodes"][1]["count"] = "7"; }) ==
        "f.json: nodes[1].count: expected a non-negative integer, got string");
  CHECK(error_after([](json& d) { d["nodes"] = json::object(); }) == "f.json: nodes: expected an array, got object");
  CHECK(error_after([](json& d) { d["links"][0]["target"] = "l9n9"; }) ==
        "f.json: links[0].target: no node has id \"l9n9\"");
  CHECK(error_after([](json& d) { d["nodes"][0]["pattern"] = "10"; }) ==
        "f.json: nodes[0].pattern: 2 bits, layer 1 has 4 neurons");
  CHECK(error_after([](json& d) { d["nodes"][0]["kind"] = "neuron"; }) ==
        "f.json: nodes[0].kind: \"neuron\" is neither \"pattern\" nor \"label\"");
  CHECK(error_after([](json& d) { d["nodes"][1]["id"] = d["nodes"][0]["id"]; }) ==
        "f.json: nodes[1].id: duplicate id \"l1n0\"");
  CHECK(error_after([](json& d) { d["graph"]["instances"] = 41; }) ==
        "f.json: layer 1: node counts sum to 40, graph.instances says 41");
  CHECK_THAT(error_after([](json& d) { d["links"][0]["count"] = d["links"][0]["count"].get<int>() + 1; }),
             Contains("do not match its links"));
  CHECK_THAT(error_after([](json& d) {
               d["nodes"][0]["count"] = d["nodes"][0]["count"].get<int>() + 1;
               d["nodes"][1]["count"] = d["nodes"][1]["count"].get<int>() - 1;
             }),
             Contains("f.json: nodes[0].true_labels: counts do not sum to the node's count"));
  CHECK(error_after([](json& d) { d["instances"].erase(0); }) ==
        "f.json: instances: 39 records, graph.instances says 40");
  std::string moved;
  const auto msg = error_after([&](json& d) {
    moved = d["instances"][3]["path"][1].get<std::string>();
    d["instances"][3]["path"][0] = moved;
  });
  CHECK(msg == "f.json: instances[3].path[0]: node \"" + moved + "\" is not in layer 1");
  CHECK_THAT(error_after([](json& d) {
               const auto other = d["instances"][1]["path"][0];
               if (other != d["instances"][0]["path"][0])
                 d["instances"][0]["path"][0] = other;
               else
                 d["instances"][0]["path"][0] = d["instances"][2]["path"][0];
             }),
             Contains("but the instances give"));
  // Found by fuzzing: a long key overflowed while it was being parsed.
  CHECK(error_after([](json& d) {
          d["nodes"][0]["true_labels"] = {{"66666666666666666666666", 1}};
        }) == "f.json: nodes[0].true_labels: key \"66666666666666666666666\" is not a label (a non-negative integer)");
  CHECK(error_after([](json& d) { d["instances"][0]["predicted"] = 77; }) ==
        "f.json: instances[0].predicted: no label node for predicted label 77");
  CHECK_THROWS_WITH(apd::parse_apd_json("{\"schema\": ", "cut.json"), Contains("cut.json: not valid JSON"));
  CHECK_THROWS_WITH(apd::parse_apd_json("[1,2]", "arr.json"), "arr.json: top level: expected an object, got array");
}

TEST_CASE("the example in docs/apd-json.md is a valid apd/1 file", "[json]") {
  const auto doc = apd::read_text_file(std::filesystem::path(APD_SOURCE_DIR) / "docs" / "apd-json.md");
  const auto begin = doc.find("```json\n");
  REQUIRE(begin != std::string::npos);
  const auto end = doc.find("```", begin + 8);
  REQUIRE(end != std::string::npos);
  const std::string example = doc.substr(begin + 8, end - begin - 8);
  const auto d = apd::parse_apd_json(example, "docs/apd-json.md");
  CHECK(d.instances == 3);
  CHECK(d.has_instances);
  CHECK(apd::to_apd_json(d) == example);  // the example is exactly what apd writes
}

TEST_CASE("GraphML carries the same node and edge attributes", "[json]") {
  const auto d = sample(50, 4);
  std::string xml;
  apd::write_graphml(d, [&](std::string_view chunk) { xml.append(chunk); });
  CHECK_THAT(xml, Contains("<graph id=\"apd\" edgedefault=\"directed\">"));
  CHECK_THAT(xml, Contains("attr.name=\"true_labels\""));
  std::size_t nodes = 0, edges = 0;
  for (std::size_t at = xml.find("<node "); at != std::string::npos; at = xml.find("<node ", at + 1)) ++nodes;
  for (std::size_t at = xml.find("<edge "); at != std::string::npos; at = xml.find("<edge ", at + 1)) ++edges;
  CHECK(nodes == d.nodes.size());
  CHECK(edges == d.links.size());
  CHECK_THAT(xml, Contains("<node id=\"l1n0\"><data key=\"n_kind\">pattern</data><data key=\"n_layer\">1</data>"
                           "<data key=\"n_pattern\">" +
                           d.pattern(0) + "</data>"));
}

TEST_CASE("saving writes atomically and leaves no temporary file behind", "[json]") {
  apd::test::TempDir dir("save");
  const auto d = sample(20, 4);
  apd::save_diagram(d, dir / "a.json", apd::OutputFormat::json);
  apd::save_diagram(d, dir / "a.graphml", apd::OutputFormat::graphml);
  CHECK(apd::read_apd_file(dir / "a.json") == d);
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  CHECK(files == 2);
  CHECK_THROWS_WITH(apd::save_diagram(d, dir / "missing" / "a.json", apd::OutputFormat::json),
                    Contains("cannot create file"));
}

TEST_CASE("JSON whitespace is allowed anywhere, control bytes nowhere outside strings", "[json]") {
  const auto d = sample(40, 65);
  // Pretty-printed (as Python's json.dump(indent=...) or nlohmann's dump(2) write it): the same diagram.
  const nlohmann::json dom = nlohmann::json::parse(apd::to_apd_json(d));
  const apd::Diagram compact = apd::parse_apd_json(dom.dump(), "compact.json");
  const std::string pretty = dom.dump(2);
  REQUIRE(pretty.find("\n    ") != std::string::npos);
  CHECK(apd::parse_apd_json(pretty, "pretty.json") == compact);
  std::string tabbed = pretty;
  std::replace(tabbed.begin(), tabbed.end(), ' ', '\t');
  CHECK(apd::parse_apd_json(tabbed, "tabs.json") == compact);
  // A NUL or another control byte outside a string fails at that byte.
  using namespace std::string_literals;
  CHECK_THROWS_WITH(apd::parse_apd_json("\0{}"s, "nul.json"),
                    "nul.json: not valid JSON: unexpected byte 0x00 at byte 0");
  std::string nul_inside = pretty;
  const auto at = nul_inside.find("\"widths\"");
  nul_inside[at - 1] = '\x01';
  CHECK_THROWS_WITH(apd::parse_apd_json(nul_inside, "ctl.json"),
                    Catch::Contains("unexpected byte 0x01 at byte " + std::to_string(at - 1)));
}

TEST_CASE("truncated or corrupted APD files raise apd::Error and never crash", "[json]") {
  const std::string text = apd::to_apd_json(sample(12, 3));
  std::size_t rejected = 0;
  for (std::size_t cut = 0; cut < text.size(); cut += 7) {
    try {
      (void)apd::parse_apd_json(std::string_view(text).substr(0, cut), "cut.json");
    } catch (const apd::Error&) {
      ++rejected;
    }
  }
  CHECK(rejected == (text.size() + 6) / 7);  // every proper prefix is refused
  std::mt19937 rng(17);
  const std::string alphabet = "{}[],:\"0123456789-.eyn lbtrufas";
  for (int round = 0; round < 3000; ++round) {
    std::string bad = text;
    for (int edits = 0; edits < 3; ++edits) {
      bad[rng() % bad.size()] = alphabet[rng() % alphabet.size()];
    }
    try {
      const auto d = apd::parse_apd_json(bad, "edited.json");
      // Accepted edits (e.g. inside a metadata string) still give a consistent diagram.
      CHECK(apd::parse_apd_json(apd::to_apd_json(d), "again") == d);
    } catch (const apd::Error&) {
    }
  }
}

TEST_CASE("the provenance in an APD's metadata is typed, and a wrong type names the key", "[json]") {
  auto d = sample(20, 4);
  d.graph["run"] = "runs/paper";
  d.graph["epoch"] = 10;
  d.graph["model"] = {{"architecture", "4-4-5-10"}};
  const apd::ApdProvenance p = apd::provenance(d, "f.json");
  CHECK(p.run == "runs/paper");
  CHECK(p.epoch == 10);
  CHECK(p.architecture == "4-4-5-10");
  CHECK(p.selection["split"] == "train");
  d.graph["run"] = nullptr;
  d.graph.erase("epoch");
  CHECK(!apd::provenance(d, "f.json").run);
  CHECK(!apd::provenance(d, "f.json").epoch);
  d.graph["epoch"] = "ten";
  CHECK_THROWS_WITH(apd::provenance(d, "f.json"), "f.json: graph.epoch: expected an integer or null, got string");
  d.graph["epoch"] = 10;
  d.graph["model"] = {{"architecture", 7}};
  CHECK_THROWS_WITH(apd::provenance(d, "f.json"), "f.json: graph.model.architecture: expected a string, got number");
  d.graph["model"] = json::object();
  d.graph["selection"] = json::array();
  CHECK_THROWS_WITH(apd::provenance(d, "f.json"), "f.json: graph.selection: expected an object or null, got array");
}

TEST_CASE("an output that is not a regular file is written, not replaced", "[output]") {
  const apd::test::TempDir dir("not-regular");
  const auto link = dir / "null";
  std::filesystem::create_symlink("/dev/null", link);
  apd::write_file_atomically(link, "bytes");
  CHECK(std::filesystem::is_symlink(link));  // renaming over it would have replaced the link (or, as root, /dev/null)
  CHECK(std::filesystem::is_character_file("/dev/null"));
  CHECK_THROWS_WITH(apd::write_file_atomically(dir.path(), "x"), Contains("is a directory, not a file to write"));
}

TEST_CASE("a chunk buffer hands the sink every byte, in order, one chunk at a time", "[output]") {
  std::string sent, expected;
  std::size_t chunks = 0;
  std::atomic<int> inside{0};
  bool overlapped = false;
  const apd::Sink sink = [&](std::string_view chunk) {
    overlapped = overlapped || inside.fetch_add(1) != 0;
    sent.append(chunk);
    ++chunks;
    inside.fetch_sub(1);
  };
  {
    apd::ChunkBuffer buffer(sink);
    for (int record = 0; record < 400'000; ++record) {  // ~13 MB: a few chunks go through the second thread
      const std::string text =
          fmt::format("{{\"record\":{},\"pad\":\"{}\"}},\n", record, std::string(record % 17, 'x'));
      expected += text;
      buffer.text() += text;
      buffer.maybe_flush();
    }
    buffer.flush();
    CHECK(sent == expected);  // complete once flush() returns
  }
  CHECK(chunks >= 3);
  CHECK_FALSE(overlapped);
}

TEST_CASE("a sink's error reaches the writer, and nothing after it is sent", "[output]") {
  std::size_t calls = 0;
  const apd::Sink sink = [&](std::string_view) {
    if (++calls == 2) throw apd::Error("out.json: write failed: No space left on device");
  };
  apd::ChunkBuffer buffer(sink);
  const auto write_all = [&] {
    for (int k = 0; k < 4'000; ++k) {
      buffer.text() += std::string(4096, 'a');
      buffer.maybe_flush();
    }
    buffer.flush();
  };
  CHECK_THROWS_WITH(write_all(), "out.json: write failed: No space left on device");
  CHECK(calls == 2);
}

TEST_CASE("a 250-character output name fits its temporary file", "[output]") {
  const apd::test::TempDir dir("long-name");
  const auto target = dir / (std::string(245, 'a') + ".json");
  apd::write_file_atomically(target, "{}");
  CHECK(apd::read_text_file(target) == "{}");
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator{}) == 1);
}

TEST_CASE("SIGTERM removes the temporary file of an output being written", "[output]") {
  const apd::test::TempDir dir("signal");
  const auto target = dir / "out.json";
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    apd::remove_temporaries_on_signals();
    apd::AtomicFile file(target);
    file.write("partial");
    ::raise(SIGTERM);
    ::_exit(0);  // not reached
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGTERM);
  CHECK(std::filesystem::is_empty(dir.path()));  // neither the target nor a .tmp
}

TEST_CASE("wide layers are written as pattern_hex (apd/2), narrow ones as '0'/'1' (apd/1)", "[json]") {
  // Neurons 1 and 10 of 10 on: 1000000001 -> padded to two bytes 10000000 01000000 -> "8040".
  apd::PatternStore store({10});
  store.append_pattern(0, "1000000001");
  std::string hex(apd::pattern_hex_digits(10), '?');
  apd::write_pattern_hex(store.row(0, 0), 10, hex.data());
  CHECK(hex == "8040");
  std::vector<std::uint64_t> row(1, 0);
  CHECK(apd::pack_pattern_hex(hex, row) == std::string_view::npos);
  CHECK(row[0] == store.row(0, 0)[0]);
  CHECK(apd::pack_pattern_hex("80G0", row) == 2);

  for (const auto encoding :
       {apd::PatternEncoding::automatic, apd::PatternEncoding::binary, apd::PatternEncoding::hex}) {
    CAPTURE(static_cast<int>(encoding));
    const auto d = sample(300, 300);  // widths 300, 300, 5
    const auto text = apd::to_apd_json(d, {.instances = true, .patterns = encoding});
    const json doc = json::parse(text);
    const bool any_hex = encoding != apd::PatternEncoding::binary;
    CHECK(doc["schema"] == (any_hex ? "apd/2" : "apd/1"));
    for (const auto& node : doc["nodes"]) {
      if (node["kind"] != "pattern") continue;
      const bool wide = node["layer"] != 3;
      const bool hex_node =
          encoding == apd::PatternEncoding::hex || (encoding == apd::PatternEncoding::automatic && wide);
      REQUIRE(node.contains("pattern_hex") == hex_node);
      REQUIRE(node.contains("pattern") == !hex_node);
      if (hex_node) CHECK(node["pattern_hex"].get<std::string>().size() == (wide ? 76U : 2U));
    }
    CHECK(apd::parse_apd_json(text, "mem") == d);
  }
}

TEST_CASE("malformed pattern_hex is refused with the node named", "[json]") {
  const auto hexed = [](const std::function<void(json&)>& edit) {
    json doc = json::parse(apd::to_apd_json(sample(40, 4), {.instances = true, .patterns = apd::PatternEncoding::hex}));
    edit(doc);
    try {
      (void)apd::parse_apd_json(doc.dump(), "f.json");
    } catch (const apd::Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(hexed([](json&) {}) == "accepted");
  CHECK_THAT(hexed([](json& d) { d["schema"] = "apd/1"; }),
             Contains("f.json: nodes[0].pattern_hex: needs schema \"apd/2\""));
  CHECK_THAT(hexed([](json& d) { d["nodes"][0]["pattern_hex"] = "f0f0"; }),
             Contains("nodes[0].pattern_hex: 4 digits, layer 1 of 4 neurons takes 2"));
  CHECK_THAT(hexed([](json& d) { d["nodes"][0]["pattern_hex"] = "ff"; }),
             Contains("nodes[0].pattern_hex: padding bits after the last neuron are set"));
  CHECK_THAT(hexed([](json& d) { d["nodes"][0]["pattern_hex"] = "F0"; }),
             Contains("nodes[0].pattern_hex: character 'F' at position 1 (only 0-9 and a-f)"));
  CHECK_THAT(hexed([](json& d) { d["nodes"][0]["pattern"] = "0000"; }), Contains("given twice"));
}

namespace {

// The reader's result for `text`: the diagram's JSON, or the error message
// with byte offsets removed (they move with the whitespace).
std::string outcome(const std::string& text) {
  try {
    return apd::to_apd_json(apd::parse_apd_json(text, "f.json"));
  } catch (const apd::Error& e) {
    std::string message = e.what();
    for (auto at = message.find("at byte "); at != std::string::npos; at = message.find("at byte ", at + 1)) {
      const auto digits = at + 8, end = message.find_first_not_of("0123456789", digits);
      message.replace(digits, (end == std::string::npos ? message.size() : end) - digits, "N");
    }
    return message;
  }
}

// `text` with a space after the "{" of every link and instance record:
// still the same JSON, but no longer the exact form the reader's fast path takes.
std::string spaced_records(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  for (std::size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    const bool opens_record = text[i] == '{' && i > 0 && text[i - 1] == '\n';
    if (opens_record && (text.compare(i + 1, 7, "\"index\"") == 0 || text.compare(i + 1, 8, "\"source\"") == 0)) {
      out += ' ';
    }
  }
  return out;
}

// The first record of `section` in `text`, without its separator.
std::string first_record(const std::string& text, const std::string& section, const std::string& opening) {
  const std::string first = text.substr(text.find("\n" + opening, text.find("\"" + section + "\":[")) + 1);
  const std::size_t end = first.find('\n');
  return first.substr(0, end - (first[end - 1] == ',' ? 1 : 0));
}

std::string replaced_once(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// Each edit (from -> to) applied to `record` inside `text` must read the same,
// diagram or error, through the fast path as through the general parser;
// the empty edit must read back as `text` itself.
void check_fast_path_agrees(const std::string& text, const std::string& record,
                            const std::vector<std::pair<std::string, std::string>>& edits) {
  for (const auto& [from, to] : edits) {
    const std::string edited = from.empty() ? text : replaced_once(text, record, replaced_once(record, from, to));
    CAPTURE(from, to);
    const std::string fast = outcome(edited);
    CHECK(fast == outcome(spaced_records(edited)));
    if (from.empty()) CHECK(fast == text);
  }
}

}  // namespace

TEST_CASE("instance records read by the fast path give what the general parser gives", "[json]") {
  const std::string text = apd::to_apd_json(sample(60, 4));
  const std::string record = first_record(text, "instances", "{\"index\"");
  CAPTURE(record);
  // The record is {"index":I,"label":L,"predicted":P,"path":["a","b","c"]}.
  const std::string path = record.substr(record.find("\"path\":[") + 8);
  const std::string first_id = path.substr(1, path.find('"', 1) - 1);
  const std::string index = record.substr(9, record.find(',') - 9);
  const std::vector<std::pair<std::string, std::string>> edits{
      {"", ""},
      {"\"index\":" + index + ",", "\"index\":0" + index + ","},  // leading zero: invalid JSON
      {"\"index\":" + index + ",", "\"index\":-" + index + ","},
      {"\"index\":" + index + ",", "\"index\":123456789012345678,"},
      {"\"index\":" + index + ",", "\"index\":9223372036854775807,"},
      {"\"index\":" + index + ",", "\"index\":9223372036854775808,"},
      {"\"index\":" + index + ",", "\"index\":1.5,"},
      {"\"index\":" + index + ",", "\"index\":1e3,"},
      {"\"index\":" + index + ",", "\"index\":\"3\","},
      {"\"label\":", "\"label\":2147483647,\"x\":"},
      {"\"label\":", "\"label\":2147483648,\"x\":"},
      {"\"label\":", "\"label\":999999999,\"x\":"},
      {"\"predicted\":", "\"predicted\":null,\"x\":"},
      {"\"" + first_id + "\"", "\"l1n\\u0030\""},
      {"\"" + first_id + "\"", "\"l1n0\\\"\""},
      {"\"" + first_id + "\"", "\"l1n0\xc3\xa9\""},
      {"\"" + first_id + "\"", "\"l1n0\t\""},
      {"\"" + first_id + "\"", "\"" + first_id + "\",\"" + first_id + "\""},
      {"\"path\":[", "\"path\":[]}"},
      {"\"path\":[", "\"path\":[],\"path2\":["},
      {"]}", "],\"extra\":1}"},
      {"]}", "]}}"},
      {"]}", "]"},
      {"{\"index\"", "{\"label\":1,\"index\""},
  };
  check_fast_path_agrees(text, record, edits);
}

TEST_CASE("link records read by the fast path give what the general parser gives", "[json]") {
  const std::string text = apd::to_apd_json(sample(60, 4));
  const std::string record = first_record(text, "links", "{\"source\"");
  CAPTURE(record);
  // The record is {"source":"a","target":"b","count":C,"errors":E}.
  const std::string count =
      record.substr(record.find("\"count\":") + 8, record.find(",\"errors") - record.find("\"count\":") - 8);
  const std::vector<std::pair<std::string, std::string>> edits{
      {"", ""},
      {"\"count\":" + count, "\"count\":0" + count},
      {"\"count\":" + count, "\"count\":18446744073709551615"},
      {"\"count\":" + count, "\"count\":18446744073709551616"},
      {"\"count\":" + count, "\"count\":9999999999999999999"},
      {"\"count\":" + count, "\"count\":-1"},
      {"\"count\":" + count + ",\"errors\":", "\"count\":0,\"errors\":1"},  // errors exceed count
      {"\"errors\":", "\"errors\":1.0,\"x\":"},
      {"\"source\":\"", "\"source\":\"\\u006c"},
      {"\"source\":\"", "\"source\":\"l\\"},
      {"\"target\":\"", "\"target\":\"\x01"},
      {"\"source\":", "\"target\":\"l1n0\",\"source\":"},
      {"}", ",\"extra\":true}"},
  };
  check_fast_path_agrees(text, record, edits);
}

TEST_CASE("region radius and boundary distance round-trip exactly, +infinity as null", "[json][geometry]") {
  auto d = sample(200, 40);
  for (std::size_t i = 0; i < d.instances; ++i) {
    d.region_radius.push_back(i == 3 ? std::numeric_limits<double>::infinity() : 1.0 / (3.0 + static_cast<double>(i)));
    d.boundary_distance.push_back(i == 5 ? 0.0 : std::nextafter(0.1 * static_cast<double>(i + 1), 1.0));
  }
  const auto text = apd::to_apd_json(d);
  CHECK(text.find("\"region_radius\":null,\"boundary_distance\":") != std::string::npos);
  const auto back = apd::parse_apd_json(text, "mem");
  CHECK(back == d);  // every double read back bit for bit (shortest round-trip text)
  CHECK(apd::to_apd_json(back) == text);
  // Through the general parser too: a space moves every instance record off the fast path.
  const std::string key = "{\"index\":";
  std::string spaced;
  std::size_t from = 0;
  for (auto at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
    spaced.append(text, from, at + 1 - from).push_back(' ');
    from = at + 1;
  }
  spaced.append(text, from);
  CHECK(apd::parse_apd_json(spaced, "mem") == d);
}

TEST_CASE("distances are all or none, and never negative or text", "[json][geometry]") {
  const auto with = [](const std::function<void(json&)>& edit) {
    return error_after([&](json& d) {
      for (auto& r : d["instances"]) {
        r["region_radius"] = 0.5;
        r["boundary_distance"] = nullptr;
      }
      edit(d);
    });
  };
  CHECK(with([](json&) {}) == "accepted");
  CHECK(with([](json& d) { d["instances"][7].erase("region_radius"); }) ==
        "f.json: instances[7]: region_radius and boundary_distance go together: one is missing");
  CHECK(with([](json& d) {
          d["instances"][4].erase("region_radius");
          d["instances"][4].erase("boundary_distance");
        }) ==
        "f.json: instances[4]: no region_radius, where other instances have one: a file has them for all "
        "instances or none");
  // Records as apd writes them (the fast path, no distances) and one with them (the general parser).
  const auto text = apd::to_apd_json(sample(40, 4));
  const auto at = text.find("]}", text.find("\"instances\":["));
  const std::string mixed =
      text.substr(0, at + 1) + ",\"region_radius\":1,\"boundary_distance\":2" + text.substr(at + 1);
  CHECK_THROWS_WITH(apd::parse_apd_json(mixed, "f.json"),
                    "f.json: instances: some records have region_radius and boundary_distance and some do not: a "
                    "file has them for all instances or none");
  CHECK(with([](json& d) { d["instances"][2]["region_radius"] = -1; }) ==
        "f.json: instances[2].region_radius: expected a distance (a number >= 0, or null), got number");
  CHECK(with([](json& d) { d["instances"][2]["boundary_distance"] = "1"; }) ==
        "f.json: instances[2].boundary_distance: expected a distance (a number >= 0, or null), got string");
}
