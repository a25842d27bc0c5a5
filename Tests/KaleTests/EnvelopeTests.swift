import Foundation
@testable import Kale
import Testing

@Suite(.timeLimit(.minutes(3))) struct EnvelopeTests {
    /// The documented example of docs/wire-format.md; changing the format breaks this test.
    static let golden = #"{"args":{"height":128,"input":"in.jpg","width":256},"backoff":{"base_ms":1000,"jitter":true,"kind":"exponential","max_ms":600000},"enqueued_at":1764072000000,"eta":1764072060000,"expires_at":1764075600000,"headers":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},"id":"6f1c2d4e-0000-4000-8000-000000000001","max_retries":3,"name":"images.thumbnail","priority":"high","queue":"images","result_ttl_ms":3600000,"soft_time_limit_ms":20000,"time_limit_ms":30000,"unique_key":"thumb:in.jpg","v":1}"#

    static let example = Envelope(
        id: "6f1c2d4e-0000-4000-8000-000000000001", name: "images.thumbnail", queue: "images",
        args: .object(["input": .string("in.jpg"), "width": .number(256), "height": .number(128)]),
        enqueuedAt: 1_764_072_000_000, eta: 1_764_072_060_000, expiresAt: 1_764_075_600_000, maxRetries: 3,
        backoff: .default, softTimeLimitMs: 20_000, timeLimitMs: 30_000, priority: .high, uniqueKey: "thumb:in.jpg",
        resultTTLMs: 3_600_000, headers: ["traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"])

    @Test func encodesToTheGoldenJSON() throws {
        let bytes = try KaleJSONFormat().encode(Self.example)
        #expect(String(decoding: bytes, as: UTF8.self) == Self.golden)
    }

    @Test func decodesTheGoldenJSON() throws {
        #expect(try KaleJSONFormat().decode(Array(Self.golden.utf8)) == Self.example)
    }

    @Test func minimalMessageGetsDefaults() throws {
        let e = try KaleJSONFormat().decode(Array(#"{"v":1,"id":"a","name":"n","queue":"q","enqueued_at":5}"#.utf8))
        #expect(e.args == .null)
        #expect(e.maxRetries == 3)
        #expect(e.priority == .normal)
        #expect(e.backoff == .default)
        #expect(e.headers.isEmpty && e.eta == nil && e.expiresAt == nil)
    }

    @Test func unknownFieldsAreIgnoredButUnknownVersionsRefused() throws {
        let newer = #"{"v":1,"id":"a","name":"n","queue":"q","enqueued_at":5,"future_field":[1,2]}"#
        #expect(try KaleJSONFormat().decode(Array(newer.utf8)).id == "a")
        #expect(throws: DecodingError.self) {
            try KaleJSONFormat().decode(Array(#"{"v":2,"id":"a","name":"n","queue":"q","enqueued_at":5}"#.utf8))
        }
        #expect(throws: DecodingError.self) { try KaleJSONFormat().decode(Array("not json".utf8)) }
        #expect(throws: DecodingError.self) { try KaleJSONFormat().decode(Array(#"{"v":1,"name":"n"}"#.utf8)) }
    }

    @Test func jsonValueKeepsIntegersIntegral() throws {
        let v = try JSONValue(parsing: Data(#"{"ms":100,"f":1.5,"s":"x","a":[true,null]}"#.utf8))
        #expect(v.jsonString == #"{"a":[true,null],"f":1.5,"ms":100,"s":"x"}"#)
    }

    /// The hand-written writer must give exactly JSONEncoder's bytes, or messages written by
    /// this build would differ from those the wire-format document and older builds show.
    @Test(arguments: [
        JSONValue.null, .bool(false), .number(-0.25), .number(1e-7), .number(123_456_789), .number(-42), .number(3e20),
        .string("quote \" back \\ slash / nl \n tab \t cr \r bell \u{07} nul \u{00} ü 漢 🥬"),
        .array([.number(1), .string(""), .array([]), .object([:])]),
        .object(["b": .number(2), "a": .object(["z": .null, "Z": .bool(true), "é": .string("x"), "aa": .number(0.5)]), "": .string("empty key")]),
    ])
    func writerMatchesJSONEncoder(_ value: JSONValue) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(try value.bytes() == Array(encoder.encode(value)))
        let envelope = Envelope(id: "id-1", name: "t\u{01}", queue: "q", args: value, enqueuedAt: -5, maxRetries: 0,
                                backoff: .fixed(.milliseconds(250)), priority: .low, headers: ["b": "2", "a": "\"1\""])
        #expect(try KaleJSONFormat().encode(envelope) == Array(encoder.encode(envelope)))
        #expect(try KaleJSONFormat().decode(KaleJSONFormat().encode(envelope)) == envelope)
        var none = envelope
        none.backoff = .none
        #expect(try KaleJSONFormat().encode(none) == Array(encoder.encode(none)))
    }

    @Test func writerRefusesNonFiniteNumbers() {
        #expect(throws: EncodingError.self) { try JSONValue.number(.nan).bytes() }
        #expect(throws: EncodingError.self) { try JSONValue.array([.number(.infinity)]).bytes() }
    }
}

@Suite struct TaskIDTests {
    @Test func idsAreVersion4UUIDsInLowercaseAndDistinct() throws {
        var seen = Set<String>()
        for _ in 0..<10_000 {
            let id = TaskID.random()
            let parsed = try #require(UUID(uuidString: id), "\(id) is not a UUID")
            #expect(parsed.uuidString.lowercased() == id)
            let chars = Array(id)
            #expect(chars[14] == "4", "version nibble of \(id)")
            #expect("89ab".contains(chars[19]), "variant nibble of \(id)")
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
    }
}

/// The hand-written reader must accept what JSONDecoder accepts, with the same values, and
/// refuse what it refuses: a message that one worker reads and another does not would be a
/// task that runs or dies depending on where it lands.
@Suite struct JSONReaderTests {
    static let accepted = [
        #"{"a":[1,-2.5,3e2,-0,0.125E-2,true,false,null],"b":{"c":"\u00e9\ud83e\udd6c\n\t\"\\\/"},"":""}"#,
        " [ 1 , \"x\" ]\n", "\"only a string\"", "12345678901234", "[]", "{}", #"{"k":{"k":{"k":[[[]]]}}}"#,
        "\"é 漢 🥬 raw UTF-8\"", #"{"dup":1,"dup":2}"#,
    ]
    static let refused = [
        "", " ", "{", "[1,]", "{\"a\":1,}", "{'a':1}", "[01]", "[1.]", "[.5]", "[1e]", "[+1]", "tru", "nul",
        "\"unterminated", "\"bad \\x escape\"", "\"\\ud800 unpaired\"", "\"tab\tinside\"", "[1] 2", "{\"a\" 1}",
        "NaN", "[1e400]", String(repeating: "[", count: 300) + String(repeating: "]", count: 300),
    ]

    @Test(arguments: accepted) func acceptsWhatJSONDecoderAccepts(_ text: String) throws {
        let ours = try JSONValue(parsing: Array(text.utf8))
        let theirs = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(ours == theirs)
    }

    @Test(arguments: refused) func refusesMalformedJSON(_ text: String) {
        #expect(throws: DecodingError.self) { try JSONValue(parsing: Array(text.utf8)) }
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: DecodingError.self) { try JSONValue(parsing: [0x22, 0xFF, 0xFE, 0x22]) }
    }

    @Test func envelopeFieldsOfTheWrongTypeAreRefused() {
        for bad in [#"{"v":"1","id":"a","name":"n","queue":"q","enqueued_at":5}"#,
                    #"{"v":1,"id":7,"name":"n","queue":"q","enqueued_at":5}"#,
                    #"{"v":1,"id":"a","name":"n","queue":"q","enqueued_at":5.5}"#,
                    #"{"v":1,"id":"a","name":"n","queue":"q","enqueued_at":5,"priority":"urgent"}"#,
                    #"{"v":1,"id":"a","name":"n","queue":"q","enqueued_at":5,"backoff":{"kind":"sometimes"}}"#,
                    #"{"v":1,"id":"a","name":"n","queue":"q","enqueued_at":5,"headers":{"h":1}}"#,
                    #"[1]"#] {
            #expect(throws: DecodingError.self, "\(bad)") { try KaleJSONFormat().decode(Array(bad.utf8)) }
            #expect(throws: DecodingError.self, "\(bad)") { try JSONDecoder().decode(Envelope.self, from: Data(bad.utf8)) }
        }
    }
}
