/// Where a key lives in a Redis Cluster: CRC16 (XMODEM) of its hash tag, or of the whole key
/// when it has none, modulo 16384 (the Cluster spec's `HASH_SLOT`).
public enum ClusterSlot {
    public static let count = 16384

    /// The slot of `key`. Only the first `{…}` with something inside is a hash tag, so
    /// `kale:{images}:t:1` and `kale:{images}:pending:1` share one slot.
    public static func of(_ bytes: [UInt8]) -> Int {
        if let open = bytes.firstIndex(of: UInt8(ascii: "{")),
           let close = bytes[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
            return Int(crc16(bytes[(open + 1)..<close]) & 0x3FFF)
        }
        return Int(crc16(bytes[...]) & 0x3FFF)
    }

    public static func of(_ key: String) -> Int { of(Array(key.utf8)) }

    /// The slot a command must run in, from its first key; nil for a command without keys
    /// (WAIT, MULTI, EXEC, PING …), which goes wherever its neighbours go.
    static func of(_ command: RedisCommand) -> Int? {
        keyIndex(command.arguments).map { of(command.arguments[$0]) }
    }

    /// The argument index of a command's first key, for the commands Kale and its tools send.
    /// Anything unknown is taken to have its key first, which is right for nearly every
    /// data command; a keyless admin command Kale does not send would be routed by its first
    /// argument, still to a live node.
    static func keyIndex(_ arguments: [[UInt8]]) -> Int? {
        guard let first = arguments.first else { return nil }
        let name = String(decoding: first, as: UTF8.self).uppercased()
        switch name {
        case "EVALSHA", "EVAL", "EVALSHA_RO", "EVAL_RO", "FCALL", "FCALL_RO":
            guard arguments.count > 3, let n = Int(String(decoding: arguments[2], as: UTF8.self)), n > 0 else { return nil }
            return 3
        case "XREAD", "XREADGROUP":
            guard let streams = arguments.firstIndex(where: { String(decoding: $0, as: UTF8.self).uppercased() == "STREAMS" }),
                  streams + 1 < arguments.count else { return nil }
            return streams + 1
        case "MEMORY", "OBJECT", "XINFO", "XGROUP":
            return arguments.count > 2 ? 2 : nil
        case "WAIT", "MULTI", "EXEC", "DISCARD", "PING", "ECHO", "INFO", "TIME", "ROLE", "SCRIPT", "CLUSTER", "CLIENT",
             "ACL", "CONFIG", "DBSIZE", "FLUSHDB", "FLUSHALL", "SCAN", "KEYS", "RANDOMKEY", "SELECT", "AUTH", "HELLO",
             "COMMAND", "PUBLISH", "SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE", "PUNSUBSCRIBE", "ASKING", "READONLY",
             "READWRITE", "SLOWLOG", "LATENCY", "DEBUG", "LASTSAVE", "SAVE", "BGSAVE", "SWAPDB", "SHUTDOWN", "MONITOR",
             "FUNCTION", "PUBSUB", "QUIT", "RESET", "WAITAOF", "LOLWUT", "REPLICAOF", "SLAVEOF", "FAILOVER":
            return nil
        default:
            return arguments.count > 1 ? 1 : nil
        }
    }

    /// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as the Cluster spec gives it.
    static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int((crc >> 8) ^ UInt16(byte))]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { i in
        var crc = UInt16(i) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}
