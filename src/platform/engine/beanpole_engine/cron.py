"""Five-field cron schedules (UTC), as `cron.yaml` writes them: `*`, numbers, ranges, steps,
lists, month and day names; day of month and day of week combine as cron does (either
matches when both are restricted)."""

import time

FIELDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
NAMES = {
    3: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
    4: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
}


def values(field, index):
    low, high = FIELDS[index]
    names = NAMES.get(index, [])
    offset = 1 if index == 3 else 0

    def number(text):
        if text.isdigit():
            return int(text)
        upper = text.upper()
        if upper in names:
            return names.index(upper) + offset
        raise ValueError("%r is not a number" % text)

    out = set()
    for part in field.split(","):
        rng, _, step = part.partition("/")
        step = int(step) if step else 1
        if rng == "*":
            a, b = low, high
        elif "-" in rng:
            a, b = (number(x) for x in rng.split("-", 1))
        else:
            a = b = number(rng)
            if step > 1:
                b = high
        if not (low <= a <= b <= high) or step < 1:
            raise ValueError("%r is outside %d-%d" % (part, low, high))
        out.update(range(a, b + 1, step))
    if index == 4 and 7 in out:
        out.add(0)
    return out


def matches(schedule, epoch):
    """Whether the schedule fires at the minute starting at `epoch` (UTC)."""
    fields = schedule.split()
    if len(fields) != 5:
        raise ValueError("a schedule has five fields")
    t = time.gmtime(epoch)
    minute, hour, dom, month, dow = (values(f, i) for i, f in enumerate(fields))
    weekday = (t.tm_wday + 1) % 7  # Python: Monday 0; cron: Sunday 0
    if t.tm_min not in minute or t.tm_hour not in hour or t.tm_mon not in month:
        return False
    dom_any, dow_any = fields[2] == "*", fields[4] == "*"
    if dom_any or dow_any:
        return t.tm_mday in dom and weekday in dow
    return t.tm_mday in dom or weekday in dow
