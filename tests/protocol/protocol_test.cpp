// The visitor wire format: every frame type decodes, every kind of bad input
// gets its error code, and the server's frames are valid JSON with the
// documented members.
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include "bot/protocol/protocol.hpp"

using namespace bot::protocol;
namespace json = boost::json;

namespace {

decoded dec(std::string_view text, decode_limits limits = {}) { return decode_visitor(text, limits); }

std::string code_of(std::string_view text, decode_limits limits = {}) {
  const decoded d = dec(text, limits);
  return d.frame ? std::string("ok") : std::string(d.error.code);
}

json::object parse(const std::string& s) {
  boost::system::error_code ec;
  json::value v = json::parse(s, ec);
  INFO(s);
  REQUIRE_FALSE(ec);
  REQUIRE(v.is_object());
  return v.get_object();
}

}  // namespace

TEST_CASE("hello decodes with and without a token") {
  auto d = dec(R"({"type":"hello"})");
  REQUIRE(d.frame);
  const auto& h = std::get<hello>(*d.frame);
  CHECK(h.token.empty());
  CHECK_FALSE(h.last_seq);
  d = dec(R"({"type":"hello","token":"0123abcdef","last_seq":42,"extra":[1]})");
  REQUIRE(d.frame);
  CHECK(std::get<hello>(*d.frame).token == "0123abcdef");
  CHECK(*std::get<hello>(*d.frame).last_seq == 42);
  CHECK(type_name(*d.frame) == "hello");
}

TEST_CASE("bad hellos are refused with the field named") {
  CHECK(code_of(R"({"type":"hello","token":"has space"})") == "bad_field");
  CHECK(code_of(R"({"type":"hello","token":7})") == "bad_field");
  CHECK(code_of(R"({"type":"hello","last_seq":-1})") == "bad_field");
  CHECK(code_of(R"({"type":"hello","last_seq":1.5})") == "bad_field");
  CHECK(code_of(R"({"type":"hello","last_seq":"3"})") == "bad_field");
  CHECK(code_of(R"({"type":"hello","token":")" + std::string(129, 'a') + "\"}") == "bad_field");
}

TEST_CASE("messages decode as text or as a quick reply payload") {
  auto d = dec(R"({"type":"message","client_msg_id":"m1","text":"where is my order?"})");
  REQUIRE(d.frame);
  auto m = std::get<message>(*d.frame);
  CHECK(m.client_msg_id == "m1");
  CHECK(m.text == "where is my order?");
  CHECK(m.payload.empty());
  d = dec(R"({"type":"message","client_msg_id":"m2","payload":"intent:order_status","text":"Track"})");
  REQUIRE(d.frame);
  m = std::get<message>(*d.frame);
  CHECK(m.payload == "intent:order_status");
  CHECK(m.text == "Track");
  d = dec(R"({"type":"message","client_msg_id":"m3","payload":"kb:returns"})");
  REQUIRE(d.frame);
  CHECK(std::get<message>(*d.frame).text.empty());
}

TEST_CASE("bad messages carry their error code and the client_msg_id when readable") {
  CHECK(code_of(R"({"type":"message","text":"hi"})") == "missing_field");
  CHECK(code_of(R"({"type":"message","client_msg_id":"m1"})") == "missing_field");
  CHECK(code_of(R"({"type":"message","client_msg_id":"","text":"hi"})") == "bad_field");
  CHECK(code_of(R"({"type":"message","client_msg_id":5,"text":"hi"})") == "bad_field");
  CHECK(code_of(R"({"type":"message","client_msg_id":"m1","text":["hi"]})") == "bad_field");
  auto blank = dec(R"({"type":"message","client_msg_id":"m1","text":"  \n\t "})");
  REQUIRE_FALSE(blank.frame);
  CHECK(blank.error.code == "bad_field");
  CHECK(blank.error.client_msg_id == "m1");
  CHECK(code_of(R"({"type":"message","client_msg_id":")" + std::string(129, 'x') + R"(","text":"a"})") ==
        "bad_field");
}

TEST_CASE("text length is counted in characters against max_text_chars") {
  decode_limits limits;
  limits.max_text_chars = 5;
  CHECK(code_of(R"({"type":"message","client_msg_id":"m","text":"héllo"})", limits) == "ok");
  CHECK(code_of(R"({"type":"message","client_msg_id":"m","text":"😀😀😀😀😀"})", limits) == "ok");
  const auto d = dec(R"({"type":"message","client_msg_id":"m9","text":"hello!"})", limits);
  REQUIRE_FALSE(d.frame);
  CHECK(d.error.code == "too_long");
  CHECK(d.error.client_msg_id == "m9");
  CHECK(d.error.message.find("hello") == std::string::npos);  // never echoes the text
}

TEST_CASE("malformed frames get bad_json or bad_frame") {
  CHECK(code_of("") == "bad_json");
  CHECK(code_of("{") == "bad_json");
  CHECK(code_of("not json") == "bad_json");
  CHECK(code_of("{\"type\":\"message\",\"client_msg_id\":\"m\",\"text\":\"\xff\xfe\"}") == "bad_json");
  CHECK(code_of("[1,2]") == "bad_frame");
  CHECK(code_of("\"hello\"") == "bad_frame");
  CHECK(code_of("null") == "bad_frame");
  CHECK(code_of(std::string(100, '[') + std::string(100, ']')) == "bad_json");  // too deep
  CHECK(code_of(R"({"text":"hi"})") == "missing_field");
  CHECK(code_of(R"({"type":3})") == "bad_field");
  const auto d = dec(R"({"type":"<script>"})");
  REQUIRE_FALSE(d.frame);
  CHECK(d.error.code == "unknown_type");
}

TEST_CASE("typing feedback survey contact and close decode and validate") {
  auto d = dec(R"({"type":"typing","on":true})");
  REQUIRE(d.frame);
  CHECK(std::get<typing>(*d.frame).on);
  CHECK(code_of(R"({"type":"typing"})") == "missing_field");
  CHECK(code_of(R"({"type":"typing","on":1})") == "bad_field");

  d = dec(R"({"type":"feedback","seq":4,"helpful":false})");
  REQUIRE(d.frame);
  CHECK(std::get<feedback>(*d.frame).seq == 4);
  CHECK_FALSE(std::get<feedback>(*d.frame).helpful);
  CHECK(code_of(R"({"type":"feedback","seq":0,"helpful":true})") == "bad_field");
  CHECK(code_of(R"({"type":"feedback","helpful":true})") == "missing_field");

  d = dec(R"({"type":"survey","csat":4,"comment":"good"})");
  REQUIRE(d.frame);
  CHECK(std::get<survey>(*d.frame).csat == 4);
  CHECK(std::get<survey>(*d.frame).comment == "good");
  CHECK(code_of(R"({"type":"survey","csat":6})") == "bad_field");
  CHECK(code_of(R"({"type":"survey","csat":0})") == "bad_field");
  CHECK(code_of(R"({"type":"survey"})") == "missing_field");

  d = dec(R"({"type":"contact","email":"ana@example.com"})");
  REQUIRE(d.frame);
  CHECK(std::get<contact>(*d.frame).email == "ana@example.com");
  CHECK(code_of(R"({"type":"contact","email":"not an email"})") == "bad_field");
  CHECK(code_of(R"({"type":"contact","email":"a@b"})") == "bad_field");
  CHECK(code_of(R"({"type":"contact","email":"a@@b.com"})") == "bad_field");

  d = dec(R"({"type":"close"})");
  REQUIRE(d.frame);
  CHECK(std::holds_alternative<bot::protocol::close>(*d.frame));
}

TEST_CASE("server frames are JSON objects with the documented members") {
  auto w = parse(encode_welcome({"c_1", "tok", "bot", 7, true}));
  CHECK(w.at("type") == "welcome");
  CHECK(w.at("conversation_id") == "c_1");
  CHECK(w.at("token") == "tok");
  CHECK(w.at("state") == "bot");
  CHECK(w.at("last_seq") == 7);
  CHECK(w.at("resumed") == true);

  auto a = parse(encode_ack("m\"1", 3, false));
  CHECK(a.at("client_msg_id") == "m\"1");
  CHECK(a.at("seq") == 3);
  CHECK(a.at("duplicate") == false);

  auto e = parse(encode_error("too_long", "text is too long", "m2"));
  CHECK(e.at("type") == "error");
  CHECK(e.at("code") == "too_long");
  CHECK(e.at("client_msg_id") == "m2");
  CHECK_FALSE(parse(encode_error("bad_json", "x")).contains("client_msg_id"));

  auto st = parse(encode_state("queued", "billing"));
  CHECK(st.at("state") == "queued");
  CHECK(st.at("team") == "billing");
  CHECK_FALSE(parse(encode_state("bot", "")).contains("team"));

  auto t = parse(encode_typing("agent", true));
  CHECK(t.at("from") == "agent");
  CHECK(t.at("on") == true);

  auto r = parse(encode_resync(11, 510));
  CHECK(r.at("type") == "resync");
  CHECK(r.at("from_seq") == 11);
  CHECK(r.at("last_seq") == 510);
}

TEST_CASE("a bot message carries its source and quick replies from its meta") {
  const std::string meta = reply_meta({"kb", "returns", "Returns <policy>", 0.8125},
                                      {{"Start a return", ""}, {"Shipping", "kb:shipping"}}, "answer");
  chat_message m;
  m.seq = 2;
  m.from = "bot";
  m.text = "You can return items within **30 days**.\n<b>not html</b>";
  m.ts_ms = 1700000000000;
  m.meta_json = meta;
  auto o = parse(encode_message(m));
  CHECK(o.at("type") == "message");
  CHECK(o.at("seq") == 2);
  CHECK(o.at("from") == "bot");
  CHECK(o.at("text") == "You can return items within **30 days**.\n<b>not html</b>");
  CHECK(o.at("ts") == 1700000000000);
  CHECK_FALSE(o.contains("client_msg_id"));
  const auto& source = o.at("source").as_object();
  CHECK(source.at("kind") == "kb");
  CHECK(source.at("id") == "returns");
  CHECK(source.at("title") == "Returns <policy>");
  CHECK(source.at("confidence").to_number<double>() == Approx(0.8125).epsilon(0.001));
  const auto& qr = o.at("quick_replies").as_array();
  REQUIRE(qr.size() == 2);
  CHECK(qr[0].at("label") == "Start a return");
  CHECK(qr[0].at("payload") == "Start a return");
  CHECK(qr[1].at("payload") == "kb:shipping");
  CHECK(o.at("decision") == "answer");

  chat_message v;
  v.seq = 1;
  v.from = "visitor";
  v.text = "ctrl \x01 and \"quotes\"";
  v.client_msg_id = "m1";
  const std::string vmeta = visitor_meta("intent:order_status");
  v.meta_json = vmeta;
  auto vo = parse(encode_message(v));
  CHECK(vo.at("client_msg_id") == "m1");
  CHECK(vo.at("payload") == "intent:order_status");
  CHECK(vo.at("text") == "ctrl \x01 and \"quotes\"");
  CHECK(visitor_meta("").empty());
}
