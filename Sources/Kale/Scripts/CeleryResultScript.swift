import KaleRedis

extension Scripts {
    /// Writes a Celery result for a task that has no Kale record (a chord's body whose header
    /// Kale refused), the way `kale_celery` writes one for a record: never over a SUCCESS, with
    /// its expiry, published on the key.
    ///
    /// KEYS: 1 the result key (`celery-task-meta-<id>`)
    /// ARGV: 1 the result JSON, 2 expiry s (0: none)
    /// Returns: 1 written, 0 a SUCCESS was there
    static let celeryResult = RedisScript(name: "celery-result", source: CeleryLua.source + #"""
    return kale_celery_store(KEYS[1], ARGV[1], ARGV[2])
    """#)
}
