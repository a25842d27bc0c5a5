import Kale
import Testing

/// Parsing and normalising cron text.
@Suite struct CronTests {
    // MARK: parsing

    @Test(arguments: [
        ("* * * * *", "* * * * *"),
        ("0 9 * * MON-FRI", "0 9 * * 1-5"),
        ("0 9 * * mon-Fri", "0 9 * * 1-5"),
        ("*/15 * * * *", "*/15 * * * *"),
        ("0-30/10 * * * *", "0-30/10 * * * *"),
        ("5/15 * * * *", "5-59/15 * * * *"),
        ("0 0 1,15,31 * *", "0 0 1,15,31 * *"),
        ("0 0 1 JAN,jul,Dec *", "0 0 1 1,7,12 *"),
        ("0 0 1 jan-mar/2 *", "0 0 1 1-3/2 *"),
        ("0 0 * * 7", "0 0 * * 0"),
        ("0 0 * * 0,7", "0 0 * * 0"),
        ("0 0 * * 5-7", "0 0 * * 5-7"),
        ("0 0 * * SAT-SUN", "0 0 * * 6-7"),
        ("*/1 * * * *", "* * * * *"),
        ("00 09 * * *", "0 9 * * *"),
        ("  0   9\t* * *  ", "0 9 * * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@Daily", "0 0 * * *"),
        ("*/10 * * * * *", "*/10 * * * * *"),
        ("15 30 9 * * *", "15 30 9 * * *"),
        ("0 30 9 * * *", "30 9 * * *"),
    ])
    func parsesAndNormalises(text: String, normalised: String) throws {
        let expression = try CronExpression(parsing: text)
        #expect(expression.description == normalised)
        #expect(try CronExpression(parsing: expression.description) == expression, "the normalised text reads back")
    }

    @Test func spellingsOfTheSameScheduleAreEqual() throws {
        #expect(try CronExpression(parsing: "0 9 * * MON-FRI") == CronExpression(parsing: "0 9 * * 1-5"))
        #expect(try CronExpression(parsing: "@daily") == CronExpression(parsing: "0 0 * * *"))
        #expect(try CronExpression(parsing: "0 0 0 * * *") == CronExpression(parsing: "0 0 * * *"))
        #expect(try CronExpression(parsing: "0 0 * * *") != CronExpression(parsing: "0 0 * * 1"))
    }

    @Test(arguments: [
        ("0 25 * * *", "cron field 2 (hour) '25': out of range 0-23"),
        ("60 * * * *", "cron field 1 (minute) '60': out of range 0-59"),
        ("0 0 0 * *", "cron field 3 (day-of-month) '0': out of range 1-31"),
        ("0 0 * 13 *", "cron field 4 (month) '13': out of range 1-12"),
        ("0 0 * * 8", "cron field 5 (day-of-week) '8': out of range 0-7"),
        ("0 0 * * 1-9", "cron field 5 (day-of-week) '1-9': '9' is out of range 0-7"),
        ("61 * * * * *", "cron field 1 (second) '61': out of range 0-59"),
        ("0 0 25 * * *", "cron field 3 (hour) '25': out of range 0-23"),
        ("0 0 L * *", "cron field 3 (day-of-month) 'L': 'L' (last day of the month) is not supported"),
        ("0 0 * * 5L", "cron field 5 (day-of-week) '5L': 'L' (last weekday of the month) is not supported"),
        ("0 0 15W * *", "cron field 3 (day-of-month) '15W': 'W' (nearest weekday) is not supported"),
        ("0 0 * * MON#2", "cron field 5 (day-of-week) 'MON#2': '#' (nth weekday of the month) is not supported"),
        ("0 0 ? * MON", "cron field 3 (day-of-month) '?': '?' is not supported; use '*'"),
        ("*/0 * * * *", "cron field 1 (minute) '*/0': step '0' must be a whole number from 1 to 60"),
        ("0 0 * * */8", "cron field 5 (day-of-week) '*/8': step '8' must be a whole number from 1 to 7"),
        ("*/+5 * * * *", "cron field 1 (minute) '*/+5': step '+5' must be a whole number from 1 to 60"),
        ("*/5/2 * * * *", "cron field 1 (minute) '*/5/2': more than one '/'"),
        ("30-10 * * * *", "cron field 1 (minute) '30-10': range start 30 is after its end 10"),
        ("0 0 -5 * *", "cron field 3 (day-of-month) '-5': a number is missing"),
        ("0 0 * FOO *", "cron field 4 (month) 'FOO': not a number or month name (JAN-DEC)"),
        ("0 0 * MON *", "cron field 4 (month) 'MON': not a number or month name (JAN-DEC)"),
        ("0 0 * * MON-XYZ", "cron field 5 (day-of-week) 'MON-XYZ': 'XYZ' is not a number or day name (SUN-SAT)"),
        ("+5 * * * *", "cron field 1 (minute) '+5': not a number"),
        ("0 0 1,,2 * *", "cron field 3 (day-of-month) '1,,2': empty list item"),
        (
            "* * * *",
            "cron expression '* * * *': expected 5 fields (minute hour day-of-month month day-of-week) "
                + "or 6 with a leading second, got 4"
        ),
        (
            "* * * * * * *",
            "cron expression '* * * * * * *': expected 5 fields (minute hour day-of-month month "
                + "day-of-week) or 6 with a leading second, got 7"
        ),
        (
            "",
            "cron expression '': expected 5 fields (minute hour day-of-month month day-of-week) "
                + "or 6 with a leading second, got 0"
        ),
        (
            "@reboot",
            "cron alias '@reboot' is not supported; use @yearly, @annually, @monthly, @weekly, @daily, "
                + "@midnight or @hourly (for a fixed interval, use every)"
        ),
    ])
    func refusesBadInputNamingTheFieldAndWhy(text: String, message: String) {
        let error = #expect(throws: ScheduleError.self) { try CronExpression(parsing: text) }
        #expect(error?.code == .invalidCron)
        #expect(error?.message == message)
        #expect(error?.description == message)
    }
}
