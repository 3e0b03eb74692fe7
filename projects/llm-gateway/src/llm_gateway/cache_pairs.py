"""Labelled pairs for the semantic cache's threshold: (cached question, new question, same intent).

Same-intent pairs are re-wordings a user would expect to share an answer; different-intent pairs
are deliberately close in words (same library, same verb, swapped object), because those are the
ones a cache must not confuse. Written for this project; the README's precision/recall table and a
test come from `llm-gateway cache-eval`.
"""

PAIRS: list[tuple[str, str, bool]] = [
    ("How do I reverse a list in Python?", "how do I reverse a python list", True),
    ("How do I reverse a list in Python?", "What's the way to reverse a list in Python?", True),
    ("How can I read a file line by line?", "how can i read a file line by line", True),
    ("How can I read a file line by line?", "Read a file one line at a time in Python", True),
    ("What does the with statement do?", "what does the with statement do", True),
    ("What does the with statement do?", "Explain what Python's with statement does", True),
    ("How do I sort a dictionary by value?", "how to sort a dict by its values", True),
    ("How do I merge two dictionaries?", "How can I merge two dicts?", True),
    ("What is a generator?", "what is a generator?", True),
    ("What is a generator?", "Can you explain what a generator is?", True),
    ("How do I remove duplicates from a list?", "remove duplicates from a list in python", True),
    ("How do I check if a file exists?", "How can I check whether a file exists?", True),
    ("How do I convert a string to an integer?", "convert a string to an int in Python", True),
    ("What is the difference between a list and a tuple?",
     "What's the difference between lists and tuples?", True),
    ("How do I get the current date?", "How can I get today's date in Python?", True),
    ("How do I catch an exception?", "How do I catch exceptions in Python?", True),
    ("How do I split a string by commas?", "split a string on commas in python", True),
    ("How do I create a virtual environment?", "how to create a virtualenv", True),
    ("How do I reverse a list in Python?", "How do I sort a list in Python?", False),
    ("How do I reverse a list in Python?", "How do I reverse a string in Python?", False),
    ("How can I read a file line by line?", "How can I write a file line by line?", False),
    ("How can I read a file line by line?", "How can I read a CSV file?", False),
    ("What does the with statement do?", "What does the yield statement do?", False),
    ("How do I sort a dictionary by value?", "How do I sort a dictionary by key?", False),
    ("How do I merge two dictionaries?", "How do I merge two lists?", False),
    ("What is a generator?", "What is a decorator?", False),
    ("How do I remove duplicates from a list?", "How do I remove an item from a list?", False),
    ("How do I check if a file exists?", "How do I check if a directory is empty?", False),
    ("How do I convert a string to an integer?", "How do I convert an integer to a string?",
     False),
    ("What is the difference between a list and a tuple?",
     "What is the difference between a list and a set?", False),
    ("How do I get the current date?", "How do I get the current time zone?", False),
    ("How do I catch an exception?", "How do I raise an exception?", False),
    ("How do I split a string by commas?", "How do I join strings with commas?", False),
    ("How do I create a virtual environment?", "How do I delete a virtual environment?", False),
    ("What is the GIL?", "What is asyncio?", False),
    ("How do I install a package with pip?", "How do I uninstall a package with pip?", False),
    ("How do I install a package with pip?", "how do i install a package using pip", True),
    ("What is a lambda function?", "what's a lambda in python", True),
    ("What is a lambda function?", "What is a recursive function?", False),
    ("How do I format a float to two decimals?", "format a float with 2 decimal places", True),
    ("How do I format a float to two decimals?", "How do I round a float up?", False),
]
