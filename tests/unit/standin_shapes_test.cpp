// What the stand-in answers (sandbox/standin_shapes.h), without sockets:
// the expected bytes are what the Python stand-in (samples/net/standin.py,
// since removed) answered to the same requests, with --reply "a b".
#include "sandbox/standin_shapes.h"

#include <gtest/gtest.h>

namespace agenttrace::sandbox {
namespace {

TEST(StandInShapes, GeminiStreamWithAltSseIsOneEventPerPiece) {
  StandInReply r = answer_request("POST", "/v1beta/models/gemini-x:streamGenerateContent?alt=sse", "{}", 1, "a b");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.request_id, "req_standin_000001");
  ASSERT_TRUE(r.stream);
  EXPECT_EQ(r.body, "");
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.frames[0],
            R"(data: {"candidates": [{"content": {"parts": [{"text": "a "}], "role": "model"}, "index": 0}], )"
            R"("modelVersion": "gemini-x", "responseId": "standin-000001"})" "\n"
            "\n");
  EXPECT_EQ(r.frames[1],
            R"(data: {"candidates": [{"content": {"parts": [{"text": "b"}], "role": "model"}, "index": 0, )"
            R"("finishReason": "STOP"}], "modelVersion": "gemini-x", "responseId": "standin-000001", )"
            R"("usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 2, "totalTokenCount": 3}})" "\n"
            "\n");
}

TEST(StandInShapes, OnlyPostIsAnswered) {
  StandInReply r = answer_request("GET", "/v1/messages", "", 2, "a b");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.request_id, "req_standin_000002");
  EXPECT_FALSE(r.stream);
  EXPECT_EQ(r.body,
            R"({"type": "error", "error": {"type": "not_found_error", )"
            R"("message": "standin: no route for GET /v1/messages"}})" "\n");
}

TEST(StandInShapes, ResponsesStreamNumbersItsEvents) {
  StandInReply r = answer_request("POST", "/v1/responses", R"({"model":"m","stream":true})", 3, "a b");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.request_id, "req_standin_000003");
  ASSERT_TRUE(r.stream);
  ASSERT_EQ(r.frames.size(), 10u);
  EXPECT_EQ(r.frames[0],
            R"(event: response.created)" "\n"
            R"(data: {"type": "response.created", "sequence_number": 0, )"
            R"("response": {"id": "resp_standin_000003", "object": "response", "created_at": 1700000000, )"
            R"("status": "in_progress", "error": null, "incomplete_details": null, "instructions": null, )"
            R"("model": "m", "output": [], "parallel_tool_calls": true, "tool_choice": "auto", "tools": [], )"
            R"("usage": null}})" "\n"
            "\n");
  EXPECT_EQ(r.frames[4],
            R"(event: response.output_text.delta)" "\n"
            R"(data: {"type": "response.output_text.delta", "sequence_number": 4, )"
            R"("item_id": "msg_standin_000003", "output_index": 0, "content_index": 0, "delta": "a "})" "\n"
            "\n");
  EXPECT_EQ(r.frames[9],
            R"(event: response.completed)" "\n"
            R"(data: {"type": "response.completed", "sequence_number": 9, )"
            R"("response": {"id": "resp_standin_000003", "object": "response", "created_at": 1700000000, )"
            R"("status": "completed", "error": null, "incomplete_details": null, "instructions": null, )"
            R"("model": "m", "output": [{"id": "msg_standin_000003", "type": "message", )"
            R"("status": "completed", "role": "assistant", "content": [{"type": "output_text", )"
            R"("text": "a b", "annotations": []}]}], "parallel_tool_calls": true, "tool_choice": "auto", )"
            R"("tools": [], "usage": {"input_tokens": 6, "input_tokens_details": {"cached_tokens": 0}, )"
            R"("output_tokens": 2, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 8}}})" "\n"
            "\n");
}

TEST(StandInShapes, ABodyThatIsNoJsonGetsTheDefaultModelAndTheQueryIsNoPartOfThePath) {
  StandInReply r = answer_request("POST", "/v1/messages?x=1", "not json", 4, "a b");
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.stream);
  EXPECT_TRUE(r.frames.empty());
  EXPECT_EQ(r.body,
            R"({"id": "msg_standin_000004", "type": "message", "role": "assistant", )"
            R"("model": "standin-model", "content": [{"type": "text", "text": "a b"}], )"
            R"("stop_reason": "end_turn", "stop_sequence": null, "usage": {"input_tokens": 2, )"
            R"("output_tokens": 2, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}})" "\n");
}

TEST(StandInShapes, GeminiTakesAnEmptyModelFromItsPathAsWritten) {
  StandInReply r = answer_request("POST", "/v1beta/models/g%C3%A9:generateContent", R"({"model":"","stream":false})",
                                  5, "a b");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.request_id, "req_standin_000005");
  EXPECT_FALSE(r.stream);
  EXPECT_EQ(r.body,
            R"({"candidates": [{"content": {"parts": [{"text": "a b"}], "role": "model"}, )"
            R"("finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 6, )"
            R"("candidatesTokenCount": 2, "totalTokenCount": 8}, "modelVersion": "g%C3%A9", )"
            R"("responseId": "standin-000005"})" "\n");
}

}  // namespace
}  // namespace agenttrace::sandbox
