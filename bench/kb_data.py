"""Generated help-desk articles and search queries for `make bench-kb`, seeded and repeatable.

Words come from small vocabularies of real help-desk text per language, inflected forms
included (so stemming matters), Persian compounds joined by ZWNJ (written `+` below) and Greek
with its accents. Words are drawn with Zipf-like weights (1/rank^0.8): some common, some rare.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from services.kb.domain.analysis import LANGUAGES, ZWNJ
from services.kb.domain.articles import Translation

CATEGORIES = ("network", "account", "billing", "hardware", "software", "security", "email")
#: Words of a body that are function words (`the`, `и`, `και`), as in running text.
FUNCTION_SHARE = 0.35
#: Queries of one or two words (the typo-tolerant path), and queries carrying a typo.
SHORT_SHARE = 0.4
TYPO_SHARE = 0.15

_CONTENT = {
    "en": """password passwords reset resets resetting account accounts login logins logging logged
    sign signing signed email emails emailed printer printers printing printed connect connects
    connecting connected connection connections disconnect disconnects disconnecting
    disconnected network networks router routers wireless Wi-Fi install installs installing
    installed installation update updates updating updated upgrade upgrading upgraded invoice
    invoices billing billed payment payments paying paid refund refunds refunded subscription
    subscriptions cancel cancelled cancelling order orders ordered error errors crash crashes
    crashing crashed freeze freezes freezing frozen slow slowly restart restarts restarting
    restarted reboot rebooting download downloads downloading downloaded upload uploads
    uploading uploaded file files folder folders shared sharing permission permissions access
    accessing accessed locked unlock unlocking device devices laptop laptops phone phones screen
    screens display displays keyboard mouse battery batteries charging charger setting settings
    configure configuring configured configuration browser browsers cache cookies app apps
    application applications software firmware driver drivers license licenses activate
    activation activating security secure verify verification verifying code codes two-factor
    authentication authenticator message messages notification notifications sync syncing
    synced backup backups restore restoring restored delete deleted deleting remove removed
    removing storage disk space memory server servers outage outages service services ticket
    tickets request requests support agent agents customer customers user users profile
    profiles address addresses change changes changing changed link links page pages open
    opening opened click select choose contact team manager meeting calendar calendars video
    call calls audio microphone camera headset VPN proxy firewall certificate certificates
    expired expires expiring renew renewal working works fails failed failing problem problems
    issue issues fix fixed fixing step steps check checking checked tried retry spam inbox
    attachment attachments""",
    "fa": """رمز رمزها عبور حساب حساب+ها حساب+های کاربر کاربران ورود وارد خروج ایمیل ایمیل+ها
    پیام پیام+ها پیامک اینترنت شبکه مودم روتر وای+فای اتصال اتصالات قطع وصل سرعت کند
    نرم+افزار نرم+افزارها سخت+افزار برنامه برنامه+ها نصب نصب+شده به+روز به+روزرسانی
    به+روزرسانی+ها فاکتور فاکتورها صورت+حساب صورت+حساب+ها پرداخت پرداخت+ها بازپرداخت اشتراک
    اشتراک+ها لغو سفارش سفارش+ها خطا خطاها مشکل مشکلات چاپگر چاپگرها چاپ فایل فایل+ها پوشه
    پوشه+ها دانلود بارگذاری تنظیمات تنظیم دستگاه دستگاه+ها گوشی لپ+تاپ رایانه صفحه صفحه+ها
    کلید کلیدها باتری شارژ مرورگر کوکی امنیت امنیتی تأیید کد کدها پشتیبان پشتیبانی بازیابی
    حذف فضای ذخیره حافظه سرور سرورها سرویس خدمات درخواست درخواست+ها تیکت کارشناس مشتری
    مشتریان نشانی آدرس تغییر پیوند لینک تماس تیم جلسه تقویم تصویر دوربین میکروفون صدا گواهی
    گواهینامه منقضی تمدید مجوز دسترسی قفل باز می+شود نمی+شود می+کنم نمی+کنم می+خواهم
    نمی+توانم می+توانید کنید کردم کرده+ام شده شده+است دهید بزنید بروید بگیرید ارسال فرستاده
    فرستادم دریافت کار+نمی+کند می+کند می+دهد گذرواژه گذرواژه+ها نام کاربری پیوست پیوست+ها
    هرزنامه صندوق تلفن همراه نمایشگر صفحه+کلید ماوس اسکنر اسکن بسته فعال فعال+سازی غیرفعال
    بانک کارت اعتباری مبلغ هزینه هزینه+ها تخفیف رسید رسیدها درایور درایورها نسخه نسخه+ها
    جدید قدیمی کنم کند کنند شود شوند می+شوند نمی+شوند دارم ندارم دارد ندارد می+بینم نمی+بینم
    کرده کرده+اند زدم ببینید بفرستید بررسی خراب خرابی کندی قطعی قطعی+ها هشدار هشدارها اعلان
    اعلان+ها همگام+سازی پشتیبان+گیری ذخیره+سازی بازنشانی راه+اندازی دوباره مجدد فیلترشکن
    گواهی+ها کارمند مدیر ویدیو تماس+ها بلندگو هدست""",
    "ru": """пароль пароля паролем пароли паролей сбросить сброс сброса аккаунт аккаунта аккаунте
    аккаунты учётная учётной запись записи вход входа войти выйти почта почты почту письмо
    письма писем сообщение сообщения сообщений принтер принтера принтеры печать печати
    подключение подключения подключиться подключен отключается отключение сеть сети роутер
    роутера роутере беспроводной беспроводная интернет интернета скорость медленно установка
    установить установил установки обновление обновления обновить обновил прошивка прошивку
    программа программы программу приложение приложения счёт счета счёта оплата оплаты
    оплатить платёж платежа возврат возврата подписка подписки подписку отменить отмена заказ
    заказа заказы ошибка ошибки ошибку ошибок сбой зависает зависание перезагрузить
    перезагрузка перезагрузите скачать загрузить загрузка файл файла файлы файлов папка папки
    доступ доступа права разрешения заблокирован блокировка разблокировать устройство
    устройства устройстве ноутбук ноутбука телефон телефона экран экрана клавиатура мышь
    батарея аккумулятор зарядка настройки настройка настроек настроить браузер браузера кэш
    безопасность безопасности код кода коды подтверждение подтверждения проверка резервная
    копия копии восстановить восстановление удалить удалён место диск памяти сервер сервера
    серверы служба службы поддержка поддержки заявка заявки заявку обращение оператор клиент
    клиента пользователь пользователя пользователи профиль адрес изменить изменение ссылка
    ссылку ссылки страница страницы открыть открывается нажмите выберите команда встреча
    календарь видео звонок камера микрофон гарнитура сертификат сертификата истёк продлить
    лицензия лицензии активация работает работают проблема проблемы проблему исправить
    попробуйте проверьте спам вложение вложения Wi-Fi""",
    "el": """κωδικός κωδικού κωδικό κωδικοί κωδικούς πρόσβασης επαναφορά επαναφοράς λογαριασμός
    λογαριασμού λογαριασμό λογαριασμοί σύνδεση σύνδεσης συνδέσεις συνδέεται αποσυνδέεται
    αποσύνδεση είσοδος εισόδου έξοδος μήνυμα μηνύματος μηνύματα ειδοποίηση ειδοποιήσεις
    εκτυπωτής εκτυπωτή εκτυπωτές εκτύπωση εκτύπωσης δίκτυο δικτύου δίκτυα ρούτερ ασύρματο
    ασύρματη διαδίκτυο διαδικτύου ταχύτητα αργό αργά εγκατάσταση εγκατάστασης εγκαταστήστε
    ενημέρωση ενημερώσεις ενημερώστε λογισμικό λογισμικού εφαρμογή εφαρμογής εφαρμογές
    πρόγραμμα προγράμματος τιμολόγιο τιμολογίου τιμολόγια πληρωμή πληρωμής πληρωμές χρέωση
    χρεώσεις επιστροφή χρημάτων συνδρομή συνδρομής ακύρωση ακυρώστε παραγγελία παραγγελίας
    παραγγελίες σφάλμα σφάλματος σφάλματα πρόβλημα προβλήματος προβλήματα κολλάει
    επανεκκίνηση επανεκκινήστε λήψη ανέβασμα αρχείο αρχείου αρχεία φάκελος φακέλου φακέλους
    κοινή χρήση δικαιώματα δικαιωμάτων κλειδωμένος ξεκλείδωμα συσκευή συσκευής συσκευές
    φορητός υπολογιστής υπολογιστή τηλέφωνο τηλεφώνου οθόνη οθόνης πληκτρολόγιο ποντίκι
    μπαταρία μπαταρίας φόρτιση ρυθμίσεις ρυθμίσεων ρύθμιση ρυθμίστε περιήγησης προσωρινή
    μνήμη ασφάλεια ασφαλείας επαλήθευση επαλήθευσης αντίγραφο αντίγραφα επαναφέρετε διαγραφή
    διαγράψτε χώρος αποθήκευσης διακομιστής διακομιστή υπηρεσία υπηρεσίας υποστήριξη
    υποστήριξης αίτημα αιτήματος αιτήματα πελάτης πελάτη πελάτες χρήστης χρήστη χρήστες
    προφίλ διεύθυνση αλλαγή αλλάξτε σύνδεσμος σύνδεσμο σελίδα σελίδας ανοίξτε επιλέξτε ομάδα
    σύσκεψη ημερολόγιο βίντεο κλήση κάμερα μικρόφωνο ακουστικά πιστοποιητικό έληξε ανανέωση
    άδεια ενεργοποίηση λειτουργεί δουλεύει διόρθωση δοκιμάστε ελέγξτε ανεπιθύμητα συνημμένο
    συνημμένα email Wi-Fi κωδικών λογαριασμών συνδέσεων εκτυπωτών προβλημάτων σφαλμάτων
    αρχείων συσκευών χρηστών πελατών τιμολογίων πληρωμών συνδέθηκα συνδεθείτε αποσυνδέθηκε
    εγκατέστησα ενημερώθηκε διαγράφηκε χάθηκε ξεχάσατε ξέχασα ανοίγει κλείνει στείλτε
    στάλθηκε λάβατε λαμβάνω επικοινωνήστε επικοινωνία τεχνικός τεχνική γρήγορα αμέσως νέος
    νέο νέα παλιά ενεργό ανενεργό ηλεκτρονικό ταχυδρομείο ταχυδρομείου""",
}
_FUNCTION = {
    "en": "the a an to of and or in on for with your you we if it is are not this that from "
    "by at be can will after before then when do does please",
    "fa": "و در به از را که این آن با برای یا اگر هم تا روی شما ما است هست بعد قبل لطفا",
    "ru": "и в на с по для не что это как если или к от у из вы ваш вашей мы после затем "
    "пожалуйста",
    "el": "και το τα η ο οι του της των σε στο στη στις με για από αν ή δεν να θα είναι σας "
    "μας μετά πριν",
}


def _words(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(text.replace("+", ZWNJ).split()))


CONTENT = {lang: _words(text) for lang, text in _CONTENT.items()}
FUNCTION = {lang: _words(text) for lang, text in _FUNCTION.items()}


class _Vocabulary:
    """One language's words in a seeded order of popularity, drawn with weights 1/rank^0.8."""

    def __init__(self, language: str, rng: random.Random) -> None:
        self.content = list(CONTENT[language])
        rng.shuffle(self.content)
        self.function = FUNCTION[language]
        self.cumulative = list(
            itertools.accumulate(r**-0.8 for r in range(1, len(self.content) + 1))
        )

    def draw(self, rng: random.Random, count: int) -> list[str]:
        return rng.choices(self.content, cum_weights=self.cumulative, k=count)

    def distinct(self, rng: random.Random, count: int) -> list[str]:
        words = dict.fromkeys(self.draw(rng, count))
        while len(words) < count:
            words.update(dict.fromkeys(self.draw(rng, 1)))
        return list(words)

    def running(self, rng: random.Random, count: int) -> list[str]:
        words = self.draw(rng, count)
        for i in range(count):
            if rng.random() < FUNCTION_SHARE:
                words[i] = rng.choice(self.function)
        return words


def _vocabularies(rng: random.Random) -> dict[str, _Vocabulary]:
    return {lang: _Vocabulary(lang, rng) for lang in LANGUAGES}


def _body(words: list[str], rng: random.Random) -> str:
    """Sentences of 6 to 16 words, each capitalised and closed by a full stop."""
    sentences, start = [], 0
    while start < len(words):
        end = start + rng.randint(6, 16)
        sentence = " ".join(words[start:end])
        sentences.append(sentence[:1].upper() + sentence[1:] + ".")
        start = end
    return " ".join(sentences)


def articles(count: int, seed: int = 0) -> list[Translation]:
    """`count` articles, a quarter in each language, ids `kb-000000` onwards."""
    rng = random.Random(seed)
    vocabularies = _vocabularies(rng)
    made = []
    for n in range(count):
        language = LANGUAGES[n % len(LANGUAGES)]
        words = vocabularies[language]
        title = " ".join(words.draw(rng, rng.randint(4, 10)))
        made.append(
            Translation(
                article_id=f"kb-{n:06d}",
                language=language,
                title=title[:1].upper() + title[1:],
                body=_body(words.running(rng, rng.randint(60, 150)), rng),
                tags=tuple(words.distinct(rng, rng.randint(2, 4))),
                category=rng.choice(CATEGORIES),
            )
        )
    return made


@dataclass(frozen=True)
class Query:
    text: str
    language: str
    typo: bool


def typo(word: str, rng: random.Random) -> str:
    """The word with one slip: two neighbours swapped, a letter dropped, doubled or replaced."""
    if len(word) < 5:
        return word
    while True:
        i = rng.randrange(1, len(word) - 2)
        slips = (
            word[:i] + word[i + 1] + word[i] + word[i + 2 :],
            word[:i] + word[i + 1 :],
            word[:i] + word[i] + word[i:],
            word[:i] + rng.choice(word) + word[i + 1 :],
        )
        slipped = rng.choice(slips)
        if slipped != word:
            return slipped


def queries(count: int, seed: int = 0) -> list[Query]:
    """`count` queries of one to five content words; some short, some with a typo."""
    rng = random.Random(seed)
    # The same seed ranks the words as `articles` does: popular words are asked for more.
    vocabularies = _vocabularies(random.Random(seed))
    made = []
    for _ in range(count):
        language = rng.choice(LANGUAGES)
        size = rng.randint(1, 2) if rng.random() < SHORT_SHARE else rng.randint(3, 5)
        words = vocabularies[language].distinct(rng, size)
        long_enough = [i for i, word in enumerate(words) if len(word) >= 5]
        slipped = bool(long_enough) and rng.random() < TYPO_SHARE
        if slipped:
            i = rng.choice(long_enough)
            words[i] = typo(words[i], rng)
        made.append(Query(" ".join(words), language, slipped))
    return made
