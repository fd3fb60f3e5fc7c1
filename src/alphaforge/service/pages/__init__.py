"""The dashboard's pages: each builds a :class:`~alphaforge.service.pages.base.Page` from the
service's sources: the numbers it draws (its JSON twin), its charts, tables and notes."""
