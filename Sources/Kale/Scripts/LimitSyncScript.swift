import KaleRedis

extension Scripts {
    /// Copies the fleet's limit definitions (``Keys/limits``) into one queue's control hash,
    /// where the fetch script reads them, unless a copy of that version or a newer one is
    /// there already (two workers syncing at once never leave an older copy behind).
    ///
    /// KEYS: 1 control hash
    /// ARGV: 1 version, 2… pairs of (task name, spec) (``TaskLimits/spec``)
    /// Returns: 1 copied, 0 up to date
    static let syncLimits = RedisScript(name: "sync_limits", source: #"""
    local have = tonumber(redis.call('HGET', KEYS[1], 'limits_version') or '-1') or -1
    if have >= tonumber(ARGV[1]) then return 0 end
    for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
      if string.sub(f, 1, 6) == 'limit:' then redis.call('HDEL', KEYS[1], f) end
    end
    for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], 'limit:' .. ARGV[i], ARGV[i + 1]) end
    redis.call('HSET', KEYS[1], 'limits_version', ARGV[1])
    return 1
    """#)
}
