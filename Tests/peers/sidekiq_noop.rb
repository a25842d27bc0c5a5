# The Sidekiq side of `kale-bench peers`: a no-op job, and (run as a script) its enqueue.
#   sidekiq -r ./sidekiq_noop.rb -c 5          the worker (REDIS_URL names the server)
#   ruby sidekiq_noop.rb push N                enqueues N jobs with push_bulk, 1,000 a call,
#                                              and prints the seconds it took
require "sidekiq"
# redis-rb 4.8 warns on every push_bulk of a call Sidekiq 6.4 makes; the warning is not ours to fix.
Redis.silence_deprecations = true if Redis.respond_to?(:silence_deprecations=)

class NoopJob
  include Sidekiq::Worker
  # Retries off: Kale's default keeps a failed task's record, Sidekiq's a retry set entry;
  # a no-op never fails, so this changes nothing but makes the job as plain as it gets.
  sidekiq_options retry: false

  def perform; end
end

if $PROGRAM_NAME == __FILE__ && ARGV[0] == "push"
  count = Integer(ARGV[1])
  started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  (0...count).step(1000) do |first|
    Sidekiq::Client.push_bulk("class" => NoopJob, "args" => Array.new([1000, count - first].min) { [] })
  end
  puts Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
end
