"""What is learned: the LSTM network (``network``), the n-gram baseline every figure is shown beside
(``ngram``) and the likelihood of whole pieces under a network (``scoring``).
"""
