import KaleRedis

extension Scripts {
    /// Writes a Celery result for a task that has no Kale record (a chord's body whose header
    /// Kale refused), the way `kale_celery` writes one for a record: never over a SUCCESS, with
    /// its expiry, published on the key.
    ///
    /// KEYS: 1 the result key (`celery-task-meta-<id>`)
    /// ARGV: 1 the result JSON, 2 expiry s (0: none)
    /// Returns: 1 written, 0 a SUCCESS was there
    static let celeryResult = RedisScript(name: "celery-result", source: #"""
    local cur = redis.call('GET', KEYS[1])
    if cur then
      local ok, m = pcall(cjson.decode, cur)
      if ok and type(m) == 'table' and m.status == 'SUCCESS' then return 0 end
    end
    if tonumber(ARGV[2]) > 0 then redis.call('SETEX', KEYS[1], ARGV[2], ARGV[1]) else redis.call('SET', KEYS[1], ARGV[1]) end
    redis.call('PUBLISH', KEYS[1], ARGV[1])
    return 1
    """#)
}
